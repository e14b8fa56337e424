"""What one training step of one ensemble member costs, by architecture: the job schedule (longest
first), the progress bar's share of the work and the plan's estimate all read it.

A member-step costs (batch + its share of a fixed per-step overhead) x the prompt's columns x the
architecture's multiply-adds per column and step. It is a model, not a timing: the plan's estimate
scales it by the seconds per unit of cost that the store's own models of the same architecture took
(harness.run.run_plan_text), so a constant factor per architecture does not bias the estimate; on a
fresh store the progress bar reads it alone, to weigh a deep model's step against a one-layer one's.
It lives here, not in harness/measure/architectures.py, because that file is part of the code
fingerprint and a cost model must not make stored models stale.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.world.config import RunConfig

# a training step's fixed cost (Python, kernel launches), in prompts of work
STEP_OVERHEAD_PROMPTS = 64
# the one-layer model trains on hand-written factored gradients: about one forward pass more
FACTORED_STEP_FORWARDS = 2
# the deep model trains through autograd; its many small kernels (layer norms, per-head softmax)
# cost more than their multiply-adds: measured on the 2-core CPU of this project's machines
# (seconds per member-step of the nightly `paper` store's deep models against its one-layer models,
# 2026-12-06) at about 9 forward passes' worth of multiply-adds a step
AUTOGRAD_STEP_FORWARDS = 9


def _paper_column(run: RunConfig) -> float:
    """Multiply-adds per prompt column, forward: the Q, K, V maps, the attention, the ReLU MLP."""
    d, cols = run.data.d, run.data.l_tr + 1
    ma, mb = run.model.dims(d)
    return FACTORED_STEP_FORWARDS * (d * (2 * mb + ma) + cols * (mb + ma) + ma * run.model.m)


def _deep_column(run: RunConfig) -> float:
    """Multiply-adds per prompt column, forward: the embedding, then per block the attention
    (four width x width maps and the scores) and the MLP."""
    mc, cols = run.model, run.data.l_tr + 1
    w = mc.width
    block = 4 * w * w + 2 * cols * w + 2 * w * mc.deep_mlp_width
    return AUTOGRAD_STEP_FORWARDS * (run.data.d * w + mc.depth * block)


COLUMN_COSTS: dict[str, Callable[[RunConfig], float]] = {
    "paper": _paper_column,
    "deep": _deep_column,
}


def prompt_size(run: RunConfig) -> float:
    """The cost of one prompt in one step: columns x the architecture's cost per column (an
    architecture without a cost model here costs as the one-layer model does)."""
    column = COLUMN_COSTS.get(run.model.arch, _paper_column)
    return (run.data.l_tr + 1) * column(run)


def member_work(run: RunConfig, ensemble: int = 1) -> float:
    """Training cost of one member of an ensemble of `ensemble`: steps x (batch + its share of the
    per-step overhead) x the cost of one prompt."""
    return run.train.steps * step_work(run, ensemble)


def step_work(run: RunConfig, ensemble: int = 1) -> float:
    """The cost of one training step of one member of an ensemble of `ensemble`."""
    return (run.train.batch + STEP_OVERHEAD_PROMPTS / ensemble) * prompt_size(run)
