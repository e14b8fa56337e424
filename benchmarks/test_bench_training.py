"""Training throughput: a plain per-model loop vs the harness's ensemble trainer, in one run.

The plain loop is what a researcher would write: the literal model as an
nn.Module, autograd, torch.optim.SGD, one model at a time, a fresh batch per
step. The ensemble trainer trains E models in lockstep. Both include data
generation. Throughput is steady-state: the difference between a long and a
short run, so the per-model setup (patterns, tasks, evaluation sets) that both
pay once cancels; the compiled ensemble (torch.compile, ICLCHECK_COMPILE=1) is
compiled once per shape before it is timed. Reported: per-model training steps
per second of the eager and the compiled ensemble, their ratios to the plain loop,
the ensemble's executed GFLOP/s as a fraction of the measured matmul peak, and
the dense-equivalent GFLOP/s (the work the literal formula would execute).

pytest-benchmark's own statistics (and `--benchmark-compare` across saved runs)
come from STEP_ROUNDS rounds of one steady-state batch of training steps per
config (step_batch.py), eager and compiled; the ratio table keeps its own method
(medians of long and short runs, the plain loop's and the ensembles' interleaved
round by round), recorded in each benchmark's extra_info.
Everything runs on $ICLCHECK_BENCH_DEVICE (default cpu; step_batch.bench_device),
synchronised before each timer stops.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
import torch
from step_batch import bench_device, build_step_batch, sync

from harness.training.trainer import init_ensemble, train_ensemble
from harness.world.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from harness.world.seeding import derive_seed, generator
from harness.world.world import World
from models import EnsembleICLTransformer, ReferenceICLTransformer, hinge_loss

# name: (dX, l, m, B, E, M1, M2)
CONFIGS = {
    "small": (20, 20, 64, 32, 256, 4, 16),
    "medium": (50, 50, 128, 64, 64, 10, 40),
    "large": (100, 100, 512, 128, 16, 20, 80),
}
STEPS = {"small": (20, 120), "medium": (10, 60), "large": (5, 45)}  # (short, long) runs
PLAIN_MODELS = 2
# timed rounds of one step batch per config, after one warm-up round (which also compiles)
STEP_ROUNDS = 10
DY = 10
PEAK: dict[str, float] = {}
DEVICE = bench_device()


def _run(name: str, seed: int, steps: int) -> RunConfig:
    dX, l, m, B, E, M1, M2 = CONFIGS[name]
    data = DataConfig(M1=M1, M2=M2, dX=dX, dY=DY, l_tr=l, l_ts=l, n_train_tasks=M1)
    train = TrainConfig(
        steps=steps, batch=B, eta=0.5, eval_every=steps, n_eval=8, chunk=5, checkpoint_ood=False
    )
    return RunConfig(data=data, model=ModelConfig(m=m), train=train, seed=seed)


def plain_loop(name: str, n_models: int, steps: int) -> float:
    """Seconds for n_models trained one after another with the plain loop."""
    t0 = time.perf_counter()
    for s in range(n_models):
        run = _run(name, s, steps)
        world = World.build(run)
        w = init_ensemble([run], DEVICE).member(0)
        model = ReferenceICLTransformer(w["W_Q"], w["W_K"], w["W_V"], w["W_O"], w["a"])
        opt = torch.optim.SGD(model.parameters(), lr=run.train.eta)
        g = generator(derive_seed(run.seed, "train-data"), DEVICE)
        for _ in range(steps):
            batch = world.train_prompts(run.train.batch, g)
            loss = hinge_loss(model(batch.P), batch.z)
            opt.zero_grad()
            loss.backward()
            opt.step()
    sync(DEVICE)
    return time.perf_counter() - t0


def ensemble(name: str, steps: int, compile: bool = False) -> float:
    runs = [_run(name, s, steps) for s in range(CONFIGS[name][4])]
    t0 = time.perf_counter()
    res = train_ensemble(runs, DEVICE, compile=compile)
    assert not any(res.failed)  # reading the flags waits for the device
    return time.perf_counter() - t0


def compiled_ensemble(name: str, steps: int) -> float:
    return ensemble(name, steps, compile=True)


def interleaved_rates(
    trainers: dict[str, tuple[Callable[[str, int], float], int]], name: str, repeats: int = 3
) -> dict[str, float]:
    """Steady-state model-steps per second of each trainer: extra steps / extra seconds.

    trainers: label -> (fn(name, steps) -> seconds, models per run). Every round runs each trainer's
    short and long run in turn, so that a shared machine which slows down or speeds up over the
    minutes a config takes moves all of them alike and the ratios stay fair (measured one after the
    other, the plain loop's rate once differed by 1.6x between two runs of the same code, and the
    ratio with it). Each rate is the difference of the medians of `repeats` short and long runs, so
    that one stalled or lucky run cannot make the difference collapse (a best-of-2 pair once
    reported a compiled ratio of 123 on the large config where the other runs gave 17 to 23)."""
    short, long = STEPS[name]
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in trainers}
    for _ in range(repeats):
        for label, (fn, _) in trainers.items():
            times[label][0].append(fn(name, short))
            times[label][1].append(fn(name, long))
    rates = {}
    for label, (_, models) in trainers.items():
        t_short, t_long = times[label]
        extra = statistics.median(t_long) - statistics.median(t_short)
        if extra <= 0:
            raise RuntimeError(
                f"{name} ({label}): the long run was not slower than the short one ({t_long} vs "
                f"{t_short}); timings unusable"
            )
        rates[label] = models * (long - short) / extra
    return rates


def matmul_peak(n: int = 1024, reps: int = 10) -> float:
    """Measured float32 GEMM GFLOP/s on the benchmark's device (at its thread count on a CPU)."""
    a, b = torch.randn(n, n, device=DEVICE), torch.randn(n, n, device=DEVICE)
    a @ b
    sync(DEVICE)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(DEVICE)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def step_batch_benchmark(benchmark, name: str, compile: bool) -> None:
    """pytest-benchmark's rounds of one chunk of training steps of config `name`'s full ensemble."""
    sb = build_step_batch(
        [_run(name, s, STEPS[name][1]) for s in range(CONFIGS[name][4])], compile=compile
    )
    try:
        benchmark.pedantic(sb, rounds=STEP_ROUNDS, warmup_rounds=1, iterations=1)
    finally:
        sb.close()
    benchmark.extra_info["model_steps_per_round"] = CONFIGS[name][4] * sb.chunk


def test_matmul_peak(benchmark):
    benchmark.pedantic(matmul_peak, rounds=5, warmup_rounds=1, iterations=1)
    PEAK["gflops"] = max(matmul_peak() for _ in range(3))
    benchmark.extra_info["gflops"] = PEAK["gflops"]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_ensemble_vs_plain_loop(benchmark, table, name):
    dX, l, m, B, E, M1, M2 = CONFIGS[name]
    compiled_ensemble(name, STEPS[name][0])  # compile this shape once, outside the timed runs
    rates = interleaved_rates(
        {
            "plain": (lambda n, s: plain_loop(n, PLAIN_MODELS, s), PLAIN_MODELS),
            "eager": (ensemble, E),
            "compiled": (compiled_ensemble, E),
        },
        name,
    )
    plain, ens, comp = rates["plain"], rates["eager"], rates["compiled"]
    step_batch_benchmark(benchmark, name, compile=False)
    d = dX + DY
    best = max(ens, comp)
    executed = (
        EnsembleICLTransformer.flops_per_member_step_factored(B, l, dX, DY, M1, M2, m, d, d)
        * best
        / 1e9
    )
    dense_eq = EnsembleICLTransformer.flops_per_member_step(B, l, d, m, d, d) * best / 1e9
    peak = PEAK.get("gflops") or matmul_peak()
    row = {
        "config": name,
        "dX,l,m,B": f"{dX},{l},{m},{B}",
        "E": E,
        "plain steps/s": plain,
        "ensemble steps/s/model": ens,
        "ratio": ens / plain,
        "compiled steps/s/model": comp,
        "compiled ratio": comp / plain,
        "executed GFLOP/s (best)": executed,
        "dense-equivalent GFLOP/s (best)": dense_eq,
        "peak GFLOP/s": peak,
        "executed / peak": executed / peak,
    }
    benchmark.extra_info.update(row)
    table.append(row)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_compiled_step_batch(benchmark, name):
    step_batch_benchmark(benchmark, name, compile=True)
