"""The ensemble's parameter update: plain SGD or Adam, per member, with per-member freeze.

Every parameter tensor's leading dimension is the member, so one update acts on all
members at once while each keeps its own step size and (Adam) its own moment
estimates. The update acts on the parameters named in the gradient dict the model
returns, nothing else.
"""

from __future__ import annotations

import torch

ADAM_BETAS = (0.9, 0.999)  # train.optimizer = "adam"
ADAM_EPS = 1e-8


def _per_member(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-member vector shaped to broadcast over `like` (members on the leading dimension)."""
    return t.view(-1, *([1] * (like.dim() - 1)))


class EnsembleOptimizer:
    """SGD (`kind="sgd"`) or Adam (`"adam"`: betas 0.9 / 0.999, eps 1e-8, no weight decay,
    bias-corrected)."""

    def __init__(self, model: torch.nn.Module, kind: str = "sgd"):
        self.params = dict(model.named_parameters())
        self.adam = kind == "adam"
        # Adam: per-parameter (m, v), leading dim = member
        self.moments: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def _direction(self, k: str, gk: torch.Tensor, step: int) -> torch.Tensor:
        """The gradient itself for SGD; Adam's bias-corrected m / (sqrt(v) + eps) after updating the
        moments."""
        if not self.adam:
            return gk
        b1, b2 = ADAM_BETAS
        m1, v1 = self.moments.get(k) or (torch.zeros_like(gk), torch.zeros_like(gk))
        m1 = b1 * m1 + (1 - b1) * gk
        v1 = b2 * v1 + (1 - b2) * gk * gk
        self.moments[k] = (m1, v1)
        t = step + 1
        return (m1 / (1 - b1**t)) / ((v1 / (1 - b2**t)).sqrt() + ADAM_EPS)

    def step(
        self,
        grads: dict[str, torch.Tensor],
        step: int,
        scale: torch.Tensor,
        frozen: torch.Tensor | None = None,
    ) -> None:
        """One update at 0-based `step`: params[k] -= scale[e] * direction; members where `frozen`
        is True do not move.

        `frozen` is explicit even when their scale is 0, because a failed member's gradient may be
        non-finite."""
        with torch.no_grad():
            for k, gk in grads.items():
                gk = self._direction(k, gk, step)
                upd = _per_member(scale, gk) * gk
                if frozen is not None:
                    upd = torch.where(_per_member(frozen, gk), torch.zeros_like(upd), upd)
                self.params[k].sub_(upd)
