"""Prompt batches: P = [[x_1 .. x_l, x_query], [y_1 .. y_l, 0]] as (n, l + 1, dX + dY).

Training prompts for task (a, b) (SPEC 1.3): each context carries mu_a or mu_b
with probability alpha/2 each and each other relevant pattern with probability
(1 - alpha)/(M - 2), labelled f(x) (a fair random sign for the others); the query
carries mu_a or mu_b. `sampling="exact"` instead fixes the counts:
ceil(alpha l / 2) contexts share the query's pattern, floor(alpha l / 2) carry the
other task pattern, the rest are irrelevant-task patterns, in random order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .patterns import PatternSet


@dataclass
class PromptBatch:
    P: torch.Tensor  # (..., n, l + 1, d) prompt columns; the last one is the query
    z: torch.Tensor  # (..., n) query label in {+1, -1}
    ctx_pattern: torch.Tensor  # (..., n, l) relevant-pattern index of each context
    query_pattern: torch.Tensor  # (..., n) relevant-pattern index of the query

    @property
    def same_as_query(self) -> torch.Tensor:
        """(..., n, l) bool: the context shares the query's relevant pattern."""
        return self.ctx_pattern == self.query_pattern[..., None]

    @staticmethod
    def stack(batches: list["PromptBatch"]) -> "PromptBatch":
        """Stack member batches along a new leading ensemble dimension."""
        return PromptBatch(
            torch.stack([b.P for b in batches]),
            torch.stack([b.z for b in batches]),
            torch.stack([b.ctx_pattern for b in batches]),
            torch.stack([b.query_pattern for b in batches]),
        )

    def slice(self, start: int, stop: int) -> "PromptBatch":
        """Prompts start..stop along the prompt dimension (the last batch dim)."""
        return PromptBatch(
            self.P[..., start:stop, :, :],
            self.z[..., start:stop],
            self.ctx_pattern[..., start:stop, :],
            self.query_pattern[..., start:stop],
        )


def _other_patterns(lo: torch.Tensor, hi: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Map r in [0, M - 3] onto the indices != a, b (lo < hi broadcast against r)."""
    idx = r + (r >= lo).long()
    return idx + (idx >= hi).long()


def sample_prompts(
    ps: PatternSet,
    tasks: torch.Tensor,
    n: int,
    l: int,
    alpha: float,
    K: float,
    g: torch.Generator,
    *,
    noise: float = 0.0,
    sampling: str = "iid",
    balanced: bool = True,
    dtype: torch.dtype = torch.float32,
) -> PromptBatch:
    """n prompts of context length l, tasks drawn uniformly from `tasks` (rows (a, b)).

    All randomness comes from `g`; tensors are created on g's device.
    balanced=True alternates query labels +1, -1 (label balance within a batch).
    """
    dev = g.device
    rel = ps.relevant.to(dev, torch.float64)
    irr = ps.irrelevant.to(dev, torch.float64)
    q = ps.q.to(dev, torch.float64)
    M, dX = rel.shape
    M2 = irr.shape[0]
    tasks = tasks.to(dev)

    t = torch.randint(len(tasks), (n,), generator=g, device=dev)
    a, b = tasks[t, 0], tasks[t, 1]
    if balanced:
        z = 1 - 2 * (torch.arange(n, device=dev) % 2)
    else:
        z = 1 - 2 * torch.randint(2, (n,), generator=g, device=dev)
    q_pat = torch.where(z > 0, a, b)

    # which kind of pattern each context carries: 0 = a, 1 = b, 2 = another one
    if sampling == "iid":
        u = torch.rand(n, l, generator=g, device=dev, dtype=torch.float64)
        kind = torch.where(u < alpha / 2, 0, torch.where(u < alpha, 1, 2))
    elif sampling == "exact":
        n_same = math.ceil(alpha * l / 2)
        n_opp = min(l - n_same, math.floor(alpha * l / 2))
        base = torch.full((l,), 2, dtype=torch.long, device=dev)
        base[:n_same] = 3  # shares the query's pattern
        base[n_same : n_same + n_opp] = 4  # the task's other pattern
        perm = torch.argsort(torch.rand(n, l, generator=g, device=dev), dim=1)
        kind = base[perm]
        same_is_a = (z > 0)[:, None]
        kind = torch.where(kind == 3, torch.where(same_is_a, 0, 1), kind)
        kind = torch.where(kind == 4, torch.where(same_is_a, 1, 0), kind)
    else:
        raise ValueError(f"sampling must be 'iid' or 'exact', got {sampling!r}")
    lo, hi = torch.minimum(a, b)[:, None], torch.maximum(a, b)[:, None]
    r = torch.randint(max(M - 2, 1), (n, l), generator=g, device=dev)
    other = _other_patterns(lo, hi, r)
    ctx_pat = torch.where(kind == 0, a[:, None], torch.where(kind == 1, b[:, None], other))
    sign = 1 - 2 * torch.randint(2, (n, l), generator=g, device=dev)
    y = torch.where(kind == 0, 1, torch.where(kind == 1, -1, sign))

    pat = torch.cat([ctx_pat, q_pat[:, None]], dim=1)  # (n, l + 1)
    k = torch.randint(M2, (n, l + 1), generator=g, device=dev)
    kappa = (2.0 * torch.rand(n, l + 1, generator=g, device=dev, dtype=torch.float64) - 1.0) * K
    x = rel[pat] + kappa[..., None] * irr[k]
    if noise > 0:
        x = x + noise * torch.randn(n, l + 1, dX, generator=g, device=dev, dtype=torch.float64) / math.sqrt(dX)

    P = torch.zeros(n, l + 1, dX + q.numel(), device=dev, dtype=dtype)
    P[:, :, :dX] = x.to(dtype)
    P[:, :l, dX:] = (y[..., None].to(torch.float64) * q).to(dtype)
    return PromptBatch(P=P, z=z.to(dtype), ctx_pattern=ctx_pat, query_pattern=q_pat)
