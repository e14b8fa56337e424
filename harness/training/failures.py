"""Failure tracking: a member whose loss turns non-finite or exceeds `loss_limit` is marked failed
and frozen.

The others go on. A failed member's step size becomes 0 and its update is masked (its gradient may
be non-finite); its training loss reads NaN from then on, so a failed run never shows a good-looking
number. The state lives on the training device and is updated with tensor ops only (no host read per
step, so a GPU step never waits); `failed_at` is read back once, when training ends. Masking a
member that has not failed selects its own value, so results are bit-identical to masking only after
a failure."""

from __future__ import annotations

import torch


class FailureTracker:
    """Which members failed, and at which step (-1: not failed), kept on the device."""

    def __init__(self, members: int, loss_limit: float, device: torch.device):
        self.loss_limit = loss_limit
        self.failed = torch.zeros(members, dtype=torch.bool, device=device)
        self.failed_step = torch.full((members,), -1, dtype=torch.long, device=device)

    def observe(self, loss: torch.Tensor, step: int) -> None:
        """Mark the members whose loss at `step` is non-finite or above the limit (no host sync)."""
        bad = ~torch.isfinite(loss) | (loss > self.loss_limit)
        self.failed_step = torch.where(bad & ~self.failed, step, self.failed_step)
        self.failed = self.failed | bad

    @property
    def failed_at(self) -> list[int | None]:
        """Per member, the step at which it failed (None: it did not); reads the device once."""
        return [None if s < 0 else s for s in self.failed_step.tolist()]

    def step_sizes(self, eta: torch.Tensor) -> torch.Tensor:
        """Per-member step sizes: eta, 0 for failed members."""
        return torch.where(self.failed, torch.zeros_like(eta), eta)

    def frozen(self) -> torch.Tensor:
        """The members whose update is masked (all False while no member has failed)."""
        return self.failed

    def masked_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """The loss with a failed member's entry replaced by NaN."""
        return torch.where(self.failed, torch.full_like(loss, float("nan")), loss)
