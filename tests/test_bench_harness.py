"""The benchmark suite's own machinery, without timing anything: the step batch that
pytest-benchmark repeats is the trainer's hot path, and the table goes to the committed reference
only on purpose."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import small_run

from harness.training.trainer import train_ensemble

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))
from step_batch import build_step_batch  # noqa: E402  (benchmarks/ is not a package)


def test_step_batches_train_exactly_as_the_trainer_does():
    """Two step batches of chunk steps leave the weights train_ensemble reaches in 2 x chunk steps,
    bit for bit."""
    runs = [small_run(s, train={"steps": 20, "chunk": 10, "eval_every": 20}) for s in range(3)]
    sb = build_step_batch(runs)
    try:
        before = {k: p.detach().clone() for k, p in sb.params.items()}
        sb()
        sb()
    finally:
        sb.close()
    trained = train_ensemble(runs, compile=False)
    for k, p in trained.model.named_parameters():
        assert torch.equal(sb.params[k], p), k
    assert any(not torch.equal(before[k], sb.params[k]) for k in before)


def _run_bench_conftest(
    tmp_path: Path, *args: str, fail: bool = False, env: dict[str, str] | None = None
):
    """benchmarks/conftest.py over one fake benchmark that adds a table row; returns (exit code,
    results folder, output)."""
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(BENCH / "conftest.py", suite / "conftest.py")
    (suite / "test_fake.py").write_text(
        "def test_row(table):\n    table.append({'config': 'fake', 'ratio': 2.0})\n    assert not "
        f"{fail!r}\n"
    )
    results = tmp_path / "results"
    # only `env` may ask for it
    environ = {k: v for k, v in os.environ.items() if k != "ICLCHECK_BENCH_REFRESH_REFERENCE"}
    environ.update(
        {
            "ICLCHECK_RESULTS": str(results),
            "ICLCHECK_BENCH_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(BENCH.parent), os.environ.get("PYTHONPATH", "")]),
            **(env or {}),
        }
    )
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            str(suite),
            *args,
        ],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return p.returncode, results / "benchmarks", p.stdout + p.stderr


def test_an_ordinary_bench_run_writes_the_local_table_only(tmp_path):
    rc, out, log = _run_bench_conftest(tmp_path)
    assert rc == 0, log
    assert not (out / "reference.json").exists()
    data = json.loads((out / "latest.json").read_text())
    assert data["rows"] == [{"config": "fake", "ratio": 2.0}] and data["machine"]["threads"] == 1


@pytest.mark.parametrize("how", ["option", "env"])
def test_a_deliberate_refresh_writes_the_reference_with_the_machine(tmp_path, how):
    args, env = (
        (("--iclcheck-refresh-reference",), None)
        if how == "option"
        else ((), {"ICLCHECK_BENCH_REFRESH_REFERENCE": "1"})
    )
    rc, out, log = _run_bench_conftest(tmp_path, *args, env=env)
    assert rc == 0, log
    assert not (out / "latest.json").exists()
    machine = json.loads((out / "reference.json").read_text())["machine"]
    assert {"cpu", "cpus", "threads", "torch", "git_commit"} <= set(machine)


@pytest.mark.parametrize("partial", ["selection", "failure"])
def test_a_partial_or_failing_run_never_becomes_the_reference(tmp_path, partial):
    args = (
        ("--iclcheck-refresh-reference", "-k", "row")
        if partial == "selection"
        else ("--iclcheck-refresh-reference",)
    )
    rc, out, log = _run_bench_conftest(tmp_path, *args, fail=partial == "failure")
    assert (rc == 0) == (partial == "selection"), log
    assert "NOT refreshing the committed reference" in log
    assert not (out / "reference.json").exists() and (out / "latest.json").exists()
