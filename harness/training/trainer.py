"""Online training of an ensemble of runs of equal tensor shape, on the hinge loss.

The model is the paper's one-layer Transformer (`model.arch = "paper"`, hand-written
gradients, factored data path) or the deep GPT-2-style one (`"deep"`, autograd,
dense prompts). train_ensemble composes the pieces, each in its own module:
the data stream (stream.py), the update (optimizer.py: SGD, or Adam with
`train.optimizer = "adam"`), failure tracking (failures.py) and checkpointing
(history.py).

Each member has its own seed, world, initialisation, data stream, step size
and data settings; members never share a random draw, so training member e in
an ensemble gives the same weights as training it alone. A member whose loss
turns non-finite (or exceeds `loss_limit`) is marked failed and frozen; the
others go on. Process-wide settings (deterministic algorithms, allocator,
threads) are set by the entry points (runtime.RuntimeSettings); the results
do not depend on them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from harness.measure.architectures import ARCHITECTURES
from harness.training.failures import FailureTracker
from harness.training.history import Checkpointer, History
from harness.training.optimizer import EnsembleOptimizer
from harness.training.runtime import compile_enabled
from harness.training.stream import TrainingStream
from harness.world.config import RunConfig
from harness.world.seeding import derive_seed, generator
from harness.world.world import World
from models import EnsembleDeepTransformer, EnsembleICLTransformer


@dataclass
class TrainedEnsemble:
    runs: list[RunConfig]
    worlds: list[World]
    model: EnsembleICLTransformer | EnsembleDeepTransformer
    histories: list[History]
    failed: list[bool]
    failed_at: list[int | None]
    seconds: float
    device: str
    compiled: bool = False  # trained through torch.compile (runtime.compile_enabled)


def _check_same_shape(runs: list[RunConfig]) -> None:
    keys = {r.shape_key() for r in runs}
    if len(keys) != 1:
        raise ValueError(
            f"runs in one ensemble must share their tensor shape and schedule, got {len(keys)} "
            "different shapes"
        )


def init_ensemble(
    runs: list[RunConfig], device: torch.device | str, dtype: torch.dtype = torch.float32
) -> EnsembleICLTransformer | EnsembleDeepTransformer:
    """Each member initialised from derive_seed(run.seed, "init")."""
    arch = ARCHITECTURES.get(runs[0].model.arch)
    gens = [generator(derive_seed(r.seed, "init"), device) for r in runs]
    return arch.init(runs, gens, dtype).to(device)


def train_ensemble(
    runs: list[RunConfig],
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    progress=None,
    compile: bool | None = None,
) -> TrainedEnsemble:
    """Train all `runs` in lockstep; returns weights, histories and failure flags.

    `compile`: torch.compile the hot path (None: the ICLCHECK_COMPILE environment variable, see
    compile_enabled). `progress(n)`, if given, is called after every step."""
    if not runs:
        raise ValueError("train_ensemble needs at least one run")
    for r in runs:
        r.validate()
    _check_same_shape(runs)
    device = torch.device(device)
    t0 = time.perf_counter()
    tc = runs[0].train
    worlds = [World.build(r) for r in runs]
    model = init_ensemble(runs, device, dtype)
    compiled = compile_enabled(compile)
    stream = TrainingStream(worlds, runs, device, dtype, compiled)
    history = Checkpointer(worlds, tc, device, dtype)
    failures = FailureTracker(len(runs), tc.loss_limit, device)
    optimizer = EnsembleOptimizer(model, tc.optimizer)
    eta = torch.tensor([r.train.eta for r in runs], dtype=dtype, device=device)

    history.record(model, 0)
    B, T, C = tc.batch, tc.steps, tc.chunk
    try:
        step = 0
        while step < T:
            chunk = stream.next(C * B)
            for j in range(C):
                if step >= T:
                    break
                loss, grads = stream.loss_and_grads(model, chunk.slice(j * B, (j + 1) * B))
                failures.observe(loss, step)
                optimizer.step(grads, step, failures.step_sizes(eta), failures.frozen())
                history.add_loss(failures.masked_loss(loss))
                step += 1
                if history.due(step):
                    history.record(model, step)
                if progress is not None:
                    progress(1)
    finally:
        stream.close()
    return TrainedEnsemble(
        runs=list(runs),
        worlds=worlds,
        model=model,
        histories=history.histories,
        failed=failures.failed.cpu().tolist(),
        failed_at=failures.failed_at,
        seconds=time.perf_counter() - t0,
        device=str(device),
        compiled=compiled,
    )
