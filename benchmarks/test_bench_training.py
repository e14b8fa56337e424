"""Training throughput: a plain per-model loop vs the harness's ensemble trainer, in one run.

The plain loop is what a researcher would write: the literal model as an
nn.Module, autograd, torch.optim.SGD, one model at a time, a fresh batch per
step. The ensemble trainer trains E models in lockstep. Both include data
generation. Reported: per-model training steps per second, their ratio, and
the ensemble's executed matmul GFLOP/s as a fraction of the measured peak.
"""

from __future__ import annotations

import time

import pytest
import torch

from harness.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from harness.seeding import derive_seed, generator
from harness.training import init_ensemble, train_ensemble
from harness.world import World
from models import EnsembleICLTransformer, ReferenceICLTransformer, hinge_loss

# name: (dX, l, m, B, E, M1, M2)
CONFIGS = {
    "small": (20, 20, 64, 32, 256, 4, 16),
    "medium": (50, 50, 128, 64, 64, 10, 40),
    "large": (100, 100, 512, 128, 16, 20, 80),
}
STEPS = {"small": 60, "medium": 30, "large": 10}
PLAIN_MODELS = 2
PEAK: dict[str, float] = {}


def _run(name: str, seed: int, steps: int) -> RunConfig:
    dX, l, m, B, E, M1, M2 = CONFIGS[name]
    data = DataConfig(M1=M1, M2=M2, dX=dX, l_tr=l, l_ts=l, n_train_tasks=M1)
    train = TrainConfig(steps=steps, batch=B, eta=0.5, eval_every=steps, n_eval=8, chunk=5, checkpoint_ood=False)
    return RunConfig(data=data, model=ModelConfig(m=m), train=train, seed=seed)


def plain_loop(name: str, n_models: int, steps: int) -> float:
    """Seconds for n_models trained one after another with the plain loop."""
    t0 = time.perf_counter()
    for s in range(n_models):
        run = _run(name, s, steps)
        world = World.build(run)
        w = init_ensemble([run], "cpu").member(0)
        model = ReferenceICLTransformer(w["W_Q"], w["W_K"], w["W_V"], w["W_O"], w["a"])
        opt = torch.optim.SGD(model.parameters(), lr=run.train.eta)
        g = generator(derive_seed(run.seed, "train-data"))
        for _ in range(steps):
            batch = world.train_prompts(run.train.batch, g)
            loss = hinge_loss(model(batch.P), batch.z)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def matmul_peak(n: int = 1024, reps: int = 10) -> float:
    """Measured float32 GEMM GFLOP/s at the benchmark's thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def test_matmul_peak(benchmark):
    PEAK["gflops"] = benchmark.pedantic(matmul_peak, rounds=3, iterations=1)
    PEAK["gflops"] = max(PEAK["gflops"], matmul_peak())
    benchmark.extra_info["gflops"] = PEAK["gflops"]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_ensemble_vs_plain_loop(benchmark, table, name):
    dX, l, m, B, E, _, _ = CONFIGS[name]
    steps = STEPS[name]
    plain = min(plain_loop(name, PLAIN_MODELS, steps) for _ in range(2))
    plain_rate = PLAIN_MODELS * steps / plain
    runs = [_run(name, s, steps) for s in range(E)]
    train_ensemble(runs[:2])  # warm-up
    res = benchmark.pedantic(train_ensemble, args=(runs,), rounds=2, iterations=1)
    assert not any(res.failed)
    secs = benchmark.stats.stats.min
    ens_rate = E * steps / secs
    d = dX + 10
    flops = EnsembleICLTransformer.flops_per_member_step(B, l, d, m, d, d) * E * steps / secs / 1e9
    peak = PEAK.get("gflops") or matmul_peak()
    row = {"config": name, "dX,l,m,B": f"{dX},{l},{m},{B}", "E": E, "plain steps/s": plain_rate,
           "ensemble steps/s/model": ens_rate, "ratio": ens_rate / plain_rate, "GFLOP/s": flops,
           "peak GFLOP/s": peak, "fraction of peak": flops / peak}
    benchmark.extra_info.update(row)
    table.append(row)
