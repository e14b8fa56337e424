"""Prompt batches: P = [[x_1 .. x_l, x_query], [y_1 .. y_l, 0]] as (n, l + 1, dX + dY).

Training prompts for task (a, b) (docs/paper.md §1.3): each context carries mu_a or mu_b
with probability alpha/2 each and each other relevant pattern with probability
(1 - alpha)/(M - 2), labelled f(x) (a fair random sign for the others); the query
carries mu_a or mu_b. `sampling="exact"` instead fixes the counts:
ceil(alpha l / 2) contexts share the query's pattern, floor(alpha l / 2) carry the
other task pattern, the rest are irrelevant-task patterns, in random order.
`sampling="at_least"` (the default for test prompts, docs/paper.md §1.3: "at least an alpha'/2
fraction of contexts share the query's pattern") draws iid, then, in each prompt with
fewer than ceil(alpha l / 2) same-pattern contexts, turns just enough of the other
contexts into same-pattern ones (label the query's); which ones is decided by one extra
uniform per context drawn from the same generator after the others (`replace_keys`), so
the iid and exact streams are unchanged and at_least is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from harness.world.config import SAMPLINGS
from harness.world.patterns import PatternSet


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
    def stack(batches: list[PromptBatch]) -> PromptBatch:
        """Stack member batches along a new leading ensemble dimension."""
        return PromptBatch(
            torch.stack([b.P for b in batches]),
            torch.stack([b.z for b in batches]),
            torch.stack([b.ctx_pattern for b in batches]),
            torch.stack([b.query_pattern for b in batches]),
        )

    def slice(self, start: int, stop: int) -> PromptBatch:
        """Prompts start..stop along the prompt dimension (the last batch dim, before l and d)."""
        return PromptBatch(
            self.P[..., start:stop, :, :],
            self.z[..., start:stop],
            self.ctx_pattern[..., start:stop, :],
            self.query_pattern[..., start:stop],
        )


def _check_sampling(sampling: str) -> None:
    if sampling not in SAMPLINGS:
        raise ValueError(
            f"sampling must be one of {', '.join(map(repr, SAMPLINGS))}, got {sampling!r}"
        )


def same_pattern_floor(alpha: float, l: int) -> int:
    """ceil(alpha l / 2): the fewest same-pattern contexts an "at_least" prompt of length l
    holds."""
    return min(l, math.ceil(alpha * l / 2 - 1e-12))


def _raise_to_floor(
    is_a: torch.Tensor,
    is_ab: torch.Tensor,
    z: torch.Tensor,
    alpha: torch.Tensor,
    keys: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """at_least: in each prompt, turn the non-same contexts with the smallest keys into same-pattern
    ones until ceil(alpha l / 2) share the query's pattern. is_a, is_ab (E, n, l) float 0/1; z (E,
    n); keys (E, n, l)."""
    E, n, l = is_a.shape
    is_b = is_ab - is_a
    qa = (z > 0)[..., None].to(is_a.dtype)
    same = qa * is_a + (1 - qa) * is_b
    need = torch.tensor(
        [same_pattern_floor(float(a), l) for a in alpha.tolist()], device=is_a.device
    ).view(E, 1)
    deficit = (need - same.sum(-1).long()).clamp_min(0)  # (E, n)
    rank = torch.argsort(
        torch.argsort(torch.where(same > 0, torch.full_like(keys, 2.0), keys), dim=-1), dim=-1
    )
    convert = ((rank < deficit[..., None]) & (same == 0)).to(is_a.dtype)
    is_a = is_a * (1 - convert) + qa * convert
    is_b = is_b * (1 - convert) + (1 - qa) * convert
    return is_a, is_a + is_b


def _other_patterns(lo: torch.Tensor, hi: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Map r in [0, M - 3] onto the indices != a, b (lo < hi broadcast against r); the result has
    r's dtype."""
    idx = r + (r >= lo)
    return idx + (idx >= hi)


# per prompt column: kind / order key, other pattern (task on the query), label sign (z), IDI index,
# kappa
N_UNIFORMS = 5


def draw_uniforms(
    n: int, l: int, g: torch.Generator, out: torch.Tensor | None = None
) -> torch.Tensor:
    """All uniforms one member needs for n prompts: (n, l + 1, N_UNIFORMS), one draw from g.

    A member's prompts are a pure function of these numbers, so building them
    for many members at once (`build_prompts`) never mixes their streams.
    """
    if out is None:
        return torch.rand(n, l + 1, N_UNIFORMS, generator=g, device=g.device)
    return torch.rand(n, l + 1, N_UNIFORMS, generator=g, device=g.device, out=out)


def _floor_index(u: torch.Tensor, count: torch.Tensor | int) -> torch.Tensor:
    """floor(u * count) clamped to [0, count - 1], as int64 (u >= 0: truncation is the floor, one
    pass fewer)."""
    if isinstance(count, int):
        return (u * count).long().clamp_(max=count - 1)
    return torch.minimum(torch.floor(u * count), count - 1).long()


@dataclass
class FactoredPrompts:
    """Prompts before materialisation: column i = [relevant[pat_i] + kappa_i irrelevant[k_i] ; y_i
    q].

    Leading dims (E, n); pat, k, kappa cover the l contexts and the query (l + 1); y covers the l
    contexts (the query's label slot is 0)."""

    pat: torch.Tensor  # (E, n, l + 1) relevant-pattern index
    k: torch.Tensor  # (E, n, l + 1) irrelevant-pattern index
    kappa: torch.Tensor  # (E, n, l + 1)
    y: torch.Tensor  # (E, n, l) context labels +-1
    z: torch.Tensor  # (E, n) query labels +-1

    def slice(self, start: int, stop: int) -> FactoredPrompts:
        return FactoredPrompts(
            self.pat[:, start:stop],
            self.k[:, start:stop],
            self.kappa[:, start:stop],
            self.y[:, start:stop],
            self.z[:, start:stop],
        )


def factor_prompts(
    U: torch.Tensor,
    M: int,
    M2: int,
    tasks: torch.Tensor,
    n_tasks: torch.Tensor,
    alpha: torch.Tensor,
    K: torch.Tensor,
    *,
    sampling: str = "iid",
    balanced: bool = True,
    dtype: torch.dtype = torch.float32,
    replace_keys: torch.Tensor | None = None,
) -> FactoredPrompts:
    """The factored prompts of E members from their uniforms U (E, n, l + 1, N_UNIFORMS).

    tasks (E, T, 2) padded to the longest list with n_tasks (E,) valid rows;
    alpha and K (E,); replace_keys (E, n, l) uniforms, needed by sampling "at_least".
    """
    _check_sampling(sampling)
    if sampling == "at_least" and replace_keys is None:
        raise ValueError("sampling 'at_least' needs replace_keys (one uniform per context)")
    E, n, l1, _ = U.shape
    l = l1 - 1
    dev = U.device
    e_idx = torch.arange(E, device=dev)[:, None]
    Uq, Uc = U[:, :, l, :], U[:, :, :l, :]

    t = _floor_index(Uq[..., 1], n_tasks.to(dev)[:, None])  # (E, n) task of each prompt
    a = tasks[e_idx, t, 0]
    b = tasks[e_idx, t, 1]
    if balanced:
        z = (1 - 2 * (torch.arange(n, device=dev) % 2)).expand(E, n)
    else:
        z = torch.where(Uq[..., 2] < 0.5, 1, -1)
    q_pat = torch.where(z > 0, a, b)

    # Which pattern each context carries, as bool masks: is_a = mu_a (label +1), is_ab = mu_a or
    # mu_b (mu_b has
    # label -1); neither = another relevant pattern with a fair random label. The chunk is ~1M
    # contexts per
    # uniform and the build is memory-bound, so it makes as few passes as it can: the masks pick the
    # int64
    # pattern index, and the label is one pick of bools then 2b - 1.
    f32 = torch.float32
    if sampling in ("iid", "at_least"):
        u0 = Uc[..., 0]
        al = alpha.to(dev, f32).view(E, 1, 1)
        is_a, is_ab = u0 < al / 2, u0 < al
        if sampling == "at_least":
            fa, fab = _raise_to_floor(
                is_a.to(f32), is_ab.to(f32), z, alpha, replace_keys.to(dev, f32)
            )
            is_a, is_ab = fa > 0, fab > 0
    else:
        # fixed counts: n_same contexts share the query's pattern, n_opp carry the other task
        # pattern
        n_same = torch.ceil(alpha.to(dev, torch.float64) * l / 2).long()  # (E,)
        n_opp = torch.minimum(l - n_same, torch.floor(alpha.to(dev, torch.float64) * l / 2).long())
        pos = torch.arange(l, device=dev)[None, :]
        # (E, l): same, opposite, other
        base = torch.where(
            pos < n_same[:, None], 0, torch.where(pos < (n_same + n_opp)[:, None], 1, 2)
        )
        order = torch.argsort(Uc[..., 0], dim=-1)
        kind = torch.gather(base[:, None, :].expand(E, n, l), -1, order)
        is_a = torch.where((z > 0)[..., None], kind == 0, kind == 1)
        is_ab = kind <= 1
    la, lb = a[..., None].long(), b[..., None].long()
    other = _other_patterns(
        torch.minimum(la, lb), torch.maximum(la, lb), _floor_index(Uc[..., 1], max(M - 2, 1))
    )
    # (E, n, l + 1)
    pat = torch.cat(
        [torch.where(is_ab, torch.where(is_a, la, lb), other), q_pat[..., None]], dim=-1
    )
    # +1 for mu_a, -1 for mu_b, the fair sign otherwise
    y = torch.where(is_ab, is_a, Uc[..., 2] < 0.5).to(dtype).mul_(2).sub_(1)
    k = _floor_index(U[..., 3], M2)
    kappa = (2.0 * U[..., 4].to(dtype) - 1.0) * K.to(dev, dtype).view(E, 1, 1)
    return FactoredPrompts(pat=pat, k=k, kappa=kappa, y=y, z=z.to(dtype))


def materialise(
    f: FactoredPrompts,
    relevant: torch.Tensor,
    irrelevant: torch.Tensor,
    q: torch.Tensor,
    noise: torch.Tensor | None = None,
    normals: torch.Tensor | None = None,
) -> PromptBatch:
    """Dense prompts P (E, n, l + 1, dX + dY) from factored ones, adding noise when given."""
    E, n, l1 = f.pat.shape
    l = l1 - 1
    dev, dtype = f.kappa.device, f.kappa.dtype
    M, dX = relevant.shape[1], relevant.shape[2]
    M2 = irrelevant.shape[1]
    # row gathers from the members' flattened pattern tables (embedding lookups are the fast gather)
    rel = relevant.to(dev, dtype).reshape(E * M, dX)
    irr = irrelevant.to(dev, dtype).reshape(E * M2, dX)
    e3 = torch.arange(E, device=dev)[:, None, None]
    x = F.embedding(f.pat + e3 * M, rel)
    x.add_(f.kappa[..., None] * F.embedding(f.k + e3 * M2, irr))  # (E, n, l + 1, dX)
    if normals is not None and noise is not None:
        x.add_(noise.to(dev, dtype).view(E, 1, 1, 1) * normals.to(dtype) / math.sqrt(dX))
    y = torch.cat([f.y, torch.zeros_like(f.y[..., :1])], dim=-1)  # the query's label slot is 0
    P = torch.cat([x, y[..., None] * q.to(dev, dtype)[:, None, None, :]], dim=-1)
    return PromptBatch(P=P, z=f.z, ctx_pattern=f.pat[..., :l], query_pattern=f.pat[..., l])


def build_prompts(
    U: torch.Tensor,
    relevant: torch.Tensor,
    irrelevant: torch.Tensor,
    q: torch.Tensor,
    tasks: torch.Tensor,
    n_tasks: torch.Tensor,
    alpha: torch.Tensor,
    K: torch.Tensor,
    *,
    sampling: str = "iid",
    balanced: bool = True,
    noise: torch.Tensor | None = None,
    normals: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float32,
    replace_keys: torch.Tensor | None = None,
) -> PromptBatch:
    """Dense prompts for E members at once from their uniforms U (E, n, l + 1, N_UNIFORMS).

    relevant (E, M, dX), irrelevant (E, M2, dX), q (E, dY); see `factor_prompts`
    for the rest; noise (E,) with normals (E, n, l + 1, dX) when any member adds noise.
    """
    f = factor_prompts(
        U,
        relevant.shape[1],
        irrelevant.shape[1],
        tasks,
        n_tasks,
        alpha,
        K,
        sampling=sampling,
        balanced=balanced,
        dtype=dtype,
        replace_keys=replace_keys,
    )
    return materialise(f, relevant, irrelevant, q, noise, normals)


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
    """n prompts of context length l for one pattern set, tasks drawn uniformly from `tasks` (rows
    (a, b)).

    All randomness comes from `g` (uniforms first, then normals when noise > 0, then the replacement
    keys of sampling "at_least"); tensors are created on g's device. balanced=True alternates query
    labels +1, -1."""
    _check_sampling(sampling)
    dev = g.device
    U = draw_uniforms(n, l, g)[None]
    normals = (
        torch.randn(1, n, l + 1, ps.relevant.shape[1], generator=g, device=dev)
        if noise > 0
        else None
    )
    keys = torch.rand(1, n, l, generator=g, device=dev) if sampling == "at_least" else None
    b = build_prompts(
        U,
        ps.relevant[None].to(dev),
        ps.irrelevant[None].to(dev),
        ps.q[None].to(dev),
        tasks[None].to(dev),
        torch.tensor([len(tasks)], device=dev),
        torch.tensor([alpha], dtype=torch.float64),
        torch.tensor([K], dtype=torch.float64),
        sampling=sampling,
        balanced=balanced,
        noise=torch.tensor([noise]),
        normals=normals,
        dtype=dtype,
        replace_keys=keys,
    )
    return PromptBatch(b.P[0], b.z[0], b.ctx_pattern[0], b.query_pattern[0])
