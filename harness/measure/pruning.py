"""Magnitude-based pruning of W_O rows (MLP neurons), as masks over neurons."""

from __future__ import annotations

import torch

PRUNE_RULES = {  # prune.mode -> what it removes
    "small": "the rows of W_O with the smallest norms (the paper's magnitude-based pruning)",
    "large": "the rows with the largest norms",
    "random": "rows drawn uniformly at random (from a seeded generator)",
}
PRUNE_MODES = tuple(PRUNE_RULES)


def prune_mask(
    W_O: torch.Tensor, fraction: float, mode: str, g: torch.Generator | None = None
) -> torch.Tensor:
    """(E, m) 0/1 mask that removes round(fraction * m) rows of each member's W_O (E, m, ma).

    small: the rows of smallest norm; large: the largest; random: uniformly at
    random (needs a generator `g`, on W_O's device).
    """
    if mode not in PRUNE_MODES:
        raise ValueError(f"pruning mode must be one of {', '.join(PRUNE_MODES)}, got {mode!r}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"pruning fraction must be in [0, 1], got {fraction!r}")
    E, m, _ = W_O.shape
    k = int(round(fraction * m))
    norms = W_O.detach().norm(dim=-1)  # (E, m)
    if mode == "random":
        if g is None:
            raise ValueError("random pruning needs a generator g")
        key = torch.rand(E, m, generator=g, device=W_O.device)
    else:
        key = norms if mode == "small" else -norms
    order = torch.argsort(key, dim=-1, stable=True)
    mask = torch.ones(E, m, dtype=W_O.dtype, device=W_O.device)
    mask.scatter_(1, order[:, :k], 0.0)
    return mask
