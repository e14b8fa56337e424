"""Failure tracking: a member whose loss turns non-finite or exceeds `loss_limit` is marked failed and frozen.

The others go on. A failed member's step size becomes 0 and its update is masked
(its gradient may be non-finite); its training loss reads NaN from then on, so a
failed run never shows a good-looking number.
"""

from __future__ import annotations

import torch


class FailureTracker:
    """Which members failed, and at which step; until one fails, nothing is masked."""

    def __init__(self, members: int, loss_limit: float, device: torch.device):
        self.loss_limit = loss_limit
        self.failed = torch.zeros(members, dtype=torch.bool, device=device)
        self.failed_at: list[int | None] = [None] * members
        self.any_failed = False

    def observe(self, loss: torch.Tensor, step: int) -> None:
        """Mark the members whose loss at `step` is non-finite or above the limit."""
        bad = ~torch.isfinite(loss) | (loss > self.loss_limit)
        if bool((bad & ~self.failed).any()):
            for e in torch.nonzero(bad & ~self.failed).flatten().tolist():
                self.failed_at[e] = step
            self.failed |= bad
            self.any_failed = True

    def step_sizes(self, eta: torch.Tensor) -> torch.Tensor:
        """Per-member step sizes: eta, 0 for failed members."""
        return torch.where(self.failed, torch.zeros_like(eta), eta) if self.any_failed else eta

    def frozen(self) -> torch.Tensor | None:
        """The members whose update is masked, or None while no member has failed."""
        return self.failed if self.any_failed else None

    def masked_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """The loss with a failed member's entry replaced by NaN."""
        return torch.where(self.failed, torch.full_like(loss, float("nan")), loss)
