"""One steady-state batch of the ensemble trainer's steps, for pytest-benchmark's repeated rounds.

A timing of a whole `train_ensemble` call mixes in what it pays once (worlds,
initial weights, evaluation sets, checkpoints), so its rounds would compare
setup as much as training. Here that is built once, outside the timing, and
each round times one chunk of steps of the trainer's hot path: one draw of the
training stream for `chunk` batches, then per batch the loss and gradients and
the SGD update. The failure bookkeeping and checkpoints of train_ensemble are
left out; the ratio table (test_bench_training.interleaved_rates) times whole runs.
The device is $ICLCHECK_BENCH_DEVICE (default cpu; `cuda` for the GPU check);
on CUDA each round ends with a synchronisation, so that it times the kernels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from harness.training.trainer import TrainingStream, init_ensemble
from harness.world.config import RunConfig
from harness.world.world import World

DEVICE_ENV = "ICLCHECK_BENCH_DEVICE"


def bench_device() -> torch.device:
    """The device the benchmarks train on: $ICLCHECK_BENCH_DEVICE, default cpu."""
    return torch.device(os.environ.get(DEVICE_ENV, "").strip() or "cpu")


def sync(device: torch.device) -> None:
    """Wait for the device's queued kernels (CUDA runs asynchronously), so that a timer stopped next
    counts them."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class StepBatch:
    """A built ensemble and its training stream; calling it runs `chunk` training steps of every
    member."""

    stream: TrainingStream
    params: dict[str, torch.Tensor]
    model: torch.nn.Module
    eta: torch.Tensor
    batch: int
    chunk: int

    def __call__(self) -> None:
        data = self.stream.next(self.chunk * self.batch)
        for j in range(self.chunk):
            _, grads = self.stream.loss_and_grads(
                self.model, data.slice(j * self.batch, (j + 1) * self.batch)
            )
            with torch.no_grad():
                for k, g in grads.items():
                    self.params[k].sub_(self.eta.view(-1, *([1] * (g.dim() - 1))) * g)
        sync(self.eta.device)

    def close(self) -> None:
        self.stream.close()


def build_step_batch(
    runs: list[RunConfig], compile: bool = False, device: torch.device | None = None
) -> StepBatch:
    """The members of `runs` (one shape) initialised as train_ensemble does, on `device` (default
    bench_device()) in float32."""
    device, dtype = device or bench_device(), torch.float32
    worlds = [World.build(r) for r in runs]
    model = init_ensemble(runs, device, dtype)
    stream = TrainingStream(worlds, runs, device, dtype, compile)
    eta = torch.tensor([r.train.eta for r in runs], dtype=dtype, device=device)
    tc = runs[0].train
    return StepBatch(stream, dict(model.named_parameters()), model, eta, tc.batch, tc.chunk)
