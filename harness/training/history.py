"""Checkpointing: each member's training history, evaluated on fixed held-out prompts.

At step 0, every `eval_every` steps and at the last step, every member is
evaluated on its own unseen in-domain tasks (and OOD tasks with
`checkpoint_ood`), and the mean training loss since the previous checkpoint is
recorded. "Iterations to reach eps" is read off these histories.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from harness.measure.architectures import architecture_of
from harness.measure.evaluation import evaluate
from harness.measure.probes import qk_projection
from harness.world.config import TrainConfig
from harness.world.prompts import PromptBatch
from harness.world.world import World


@dataclass
class History:
    """Checkpoint records of one member; "iterations to reach eps" is read off these."""

    steps: list[int] = field(default_factory=list)
    # mean hinge loss since the previous checkpoint
    train_loss: list[float] = field(default_factory=list)
    err_id: list[int] = field(default_factory=list)  # errors on unseen in-domain tasks
    # errors on OOD tasks (-1: not evaluated, checkpoint_ood off)
    err_ood: list[int] = field(default_factory=list)
    attn_id: list[float] = field(default_factory=list)  # same-pattern attention mass, in-domain
    attn_ood: list[float] = field(default_factory=list)  # same-pattern attention mass, OOD
    n_eval: int = 0
    # deep model only: per checkpoint, the same-pattern mass per block and head ([L][H]); empty
    # otherwise
    attn_id_layers: list = field(default_factory=list)
    attn_ood_layers: list = field(default_factory=list)
    # per checkpoint [query_norm, query_fraction, key_norm, key_fraction] (probes.QK_FIELDS); empty
    # for layered models
    qk: list = field(default_factory=list)
    # mean hinge loss on the in-domain checkpoint prompts
    hinge_id: list[float] = field(default_factory=list)
    hinge_ood: list[float] = field(default_factory=list)  # the same on OOD (NaN: not evaluated)

    def first_step_at_or_below(self, eps: float, which: str = "err_id") -> int | None:
        """First checkpoint step whose error rate (err_*) or mean hinge loss (hinge_*) is <= eps;
        None if never (censored)."""
        scale = 1 if which.startswith("hinge") else self.n_eval
        for s, e in zip(self.steps, getattr(self, which)):
            if e / scale <= eps:
                return s
        return None


class Checkpointer:
    """The members' histories: accumulates the training loss between checkpoints and records each
    checkpoint."""

    def __init__(
        self, worlds: list[World], tc: TrainConfig, device: torch.device, dtype: torch.dtype
    ):
        self.eval_every, self.steps = tc.eval_every, tc.steps
        self.eval_id = PromptBatch.stack(
            [
                w.test_prompts(
                    tc.n_eval, w.eval_generator("checkpoint-id", device=device), dtype=dtype
                )
                for w in worlds
            ]
        )
        self.eval_ood = (
            PromptBatch.stack(
                [
                    w.test_prompts(
                        tc.n_eval,
                        w.eval_generator("checkpoint-ood", device=device),
                        domain="ood",
                        dtype=dtype,
                    )
                    for w in worlds
                ]
            )
            if tc.checkpoint_ood
            else None
        )
        self.histories = [History(n_eval=tc.n_eval) for _ in worlds]
        # (E, M1, dX), for the qk probe
        self.relevant = torch.stack([w.ind.relevant for w in worlds])
        self.q = torch.stack([w.ind.q for w in worlds])
        self.loss_sum = torch.zeros(len(worlds), dtype=torch.float64, device=device)
        self.loss_count = 0

    def add_loss(self, loss: torch.Tensor) -> None:
        """One step's per-member loss (NaN for failed members)."""
        self.loss_sum += loss.double()
        self.loss_count += 1

    def due(self, step: int) -> bool:
        """Whether `step` (steps done so far, >= 1) ends with a checkpoint."""
        return step % self.eval_every == 0 or step == self.steps

    def record(self, model: torch.nn.Module, step: int) -> None:
        """Evaluate every member and append one checkpoint to each history; resets the loss
        average."""
        rid = evaluate(model, self.eval_id)
        rood = evaluate(model, self.eval_ood) if self.eval_ood is not None else None
        mean_loss = (self.loss_sum / max(self.loss_count, 1)).cpu()
        arch = architecture_of(model)
        qk = (
            qk_projection(model, self.relevant, self.q)
            if arch.value_rows and not arch.layered
            else None
        )
        for e, h in enumerate(self.histories):
            h.steps.append(step)
            h.train_loss.append(float(mean_loss[e]) if self.loss_count else float("nan"))
            h.err_id.append(int(rid.errors[e]))
            h.err_ood.append(int(rood.errors[e]) if rood is not None else -1)
            h.attn_id.append(float(rid.attn_same[e]))
            h.hinge_id.append(float(rid.hinge_loss[e]))
            h.hinge_ood.append(float(rood.hinge_loss[e]) if rood is not None else float("nan"))
            h.attn_ood.append(float(rood.attn_same[e]) if rood is not None else float("nan"))
            if qk is not None:
                h.qk.append(qk[e].tolist())
            if rid.attn_layers is not None:
                h.attn_id_layers.append(rid.attn_layers[e].tolist())
                h.attn_ood_layers.append(
                    rood.attn_layers[e].tolist()
                    if rood is not None and rood.attn_layers is not None
                    else []
                )
        self.loss_sum.zero_()
        self.loss_count = 0
