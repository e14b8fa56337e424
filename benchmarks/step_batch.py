"""One steady-state batch of the ensemble trainer's steps, for pytest-benchmark's repeated rounds.

A timing of a whole `train_ensemble` call mixes in what it pays once (worlds,
initial weights, evaluation sets, checkpoints), so its rounds would compare
setup as much as training. Here that is built once, outside the timing, and
each round times one chunk of steps of the trainer's hot path: one draw of the
training stream for `chunk` batches, then per batch the loss and gradients and
the SGD update. The failure bookkeeping and checkpoints of train_ensemble are
left out; the ratio table (test_bench_training.marginal_rate) times whole runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.training.trainer import TrainingStream, init_ensemble
from harness.world.config import RunConfig
from harness.world.world import World


@dataclass
class StepBatch:
    """A built ensemble and its training stream; calling it runs `chunk` training steps of every member."""

    stream: TrainingStream
    params: dict[str, torch.Tensor]
    model: torch.nn.Module
    eta: torch.Tensor
    batch: int
    chunk: int

    def __call__(self) -> None:
        data = self.stream.next(self.chunk * self.batch)
        for j in range(self.chunk):
            _, grads = self.stream.loss_and_grads(self.model, data.slice(j * self.batch, (j + 1) * self.batch))
            with torch.no_grad():
                for k, g in grads.items():
                    self.params[k].sub_(self.eta.view(-1, *([1] * (g.dim() - 1))) * g)

    def close(self) -> None:
        self.stream.close()


def build_step_batch(runs: list[RunConfig], compile: bool = False) -> StepBatch:
    """The members of `runs` (one shape) initialised as train_ensemble does, on the CPU in float32."""
    device, dtype = torch.device("cpu"), torch.float32
    worlds = [World.build(r) for r in runs]
    model = init_ensemble(runs, device, dtype)
    stream = TrainingStream(worlds, runs, device, dtype, compile)
    eta = torch.tensor([r.train.eta for r in runs], dtype=dtype)
    tc = runs[0].train
    return StepBatch(stream, dict(model.named_parameters()), model, eta, tc.batch, tc.chunk)

