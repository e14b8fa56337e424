"""Integration: the paper's default setting learns unseen in-domain tasks on CPU within a CI
budget."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import torch

from harness.claims.stats import clopper_pearson
from harness.measure.evaluation import evaluate
from harness.training.trainer import train_ensemble
from harness.world.config import DataConfig, RunConfig, TrainConfig
from harness.world.prompts import PromptBatch
from harness.world.seeding import derive_seed, generator

ARCHITECTURE = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


@pytest.mark.slow
def test_paper_default_reaches_low_unseen_task_error():
    """M1=6, M2=24, dX=30, l=20, alpha=0.8, T_tr = 6 of 30 tasks (uniform cover); 3 seeds x 400
    steps."""
    torch.set_num_threads(2)
    runs = [
        RunConfig(
            data=DataConfig(), train=TrainConfig(steps=400), seed=derive_seed("integration", s)
        )
        for s in range(3)
    ]
    assert (
        runs[0].data.M1 == 6
        and runs[0].data.M2 == 24
        and runs[0].data.dX == 30
        and runs[0].data.l_tr == 20
        and runs[0].data.alpha == 0.8
    )
    t0 = time.perf_counter()
    trained = train_ensemble(runs)
    n = 2000
    tests = PromptBatch.stack(
        [
            w.test_prompts(n, generator(derive_seed(w.seed, "integration-test")))
            for w in trained.worlds
        ]
    )
    res = evaluate(trained.model, tests)
    k = int(res.errors.sum())
    lo, hi = clopper_pearson(k, 3 * n)
    print(
        f"\nunseen-task errors {res.errors.tolist()} of {n} each; pooled {k}/{3 * n} = "
        f"{k / (3 * n):.4f}, "
        f"CP upper {hi:.4f}; {runs[0].train.steps} steps; {time.perf_counter() - t0:.1f} s"
    )
    assert not any(trained.failed)
    assert len(trained.worlds[0].train_tasks) == 6
    assert hi <= 0.05, f"unseen-task error {k}/{3 * n} (CP upper {hi:.4f}) is not low"
    assert float(res.attn_same.min()) > 0.6  # attention has moved off its initial ~alpha/2


@pytest.mark.slow
def test_architecture_example_runs_as_written(capsys):
    block = re.search(r"```python\n(.*?)```", ARCHITECTURE.read_text(), re.S)
    assert block, "docs/architecture.md has no python example"
    exec(compile(block.group(1), "docs/architecture.md example", "exec"), {})
    out = capsys.readouterr().out
    assert "errors on unseen tasks" in out and "attention mass" in out
