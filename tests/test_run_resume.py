"""Running claims: determinism, grouping independence, local == Dask, resume after a kill, the
pytest plugin."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_SETTING, write_claim

from harness.claims.grid import expand
from harness.claims.schema import load_claim
from harness.run.execution import NAMESPACE, execute, make_executor
from harness.run.paths import store_root
from harness.run.provenance import _git_commit_in
from harness.run.store import Store

ROOT = Path(__file__).resolve().parent.parent
TINY = (
    """id = "{id}"
source = "test"
statement = "tiny"
kind = "trend"
"""
    + TINY_SETTING
    + """batch = 16
eval_every = 10
n_eval = 64
chunk = 10
[eval]
n_test = 100
[grid]
"data.alpha" = [0.4, 0.8]
"data.S1" = [0.5, 1.0]
[metric]
name = "error_rate"
domain = "ood"
x = "data.S1"
[prediction]
direction = "decreasing"
[profiles.quick]
replicates = {reps}
[profiles.nightly]
replicates = 2
"""
)


def tiny(
    tmp_path: Path, name: str = "tiny", steps: int = 30, reps: int = 2, expectation: str = ""
) -> Path:
    return write_claim(
        tmp_path / "claims", name, TINY.format(id=name, steps=steps, reps=reps) + expectation
    )


def strip(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in ("timing", "provenance", "checksum")}


def records(root: Path) -> dict[str, dict]:
    return {
        p.name: strip(json.loads(p.read_text()))
        for p in (root / "store" / NAMESPACE).glob("*.json")
    }


@pytest.mark.slow
def test_deterministic_and_independent_of_grouping(tmp_path):
    claim = load_claim(tiny(tmp_path), "quick")
    units = expand(claim)
    ex = make_executor("local")
    execute(units, Store(store_root(tmp_path / "a")), ex, max_ensemble=64, progress=False)
    execute(units, Store(store_root(tmp_path / "b")), ex, max_ensemble=64, progress=False)
    execute(units, Store(store_root(tmp_path / "c")), ex, max_ensemble=1, progress=False)
    a, b, c = records(tmp_path / "a"), records(tmp_path / "b"), records(tmp_path / "c")
    assert len(a) == len(units) == 4
    assert a == b
    for k in a:  # error counts match exactly across ensemble sizes; float records to tolerance
        assert [m["err_ood"] for m in a[k]["measurements"]] == [
            m["err_ood"] for m in c[k]["measurements"]
        ]
        assert a[k]["history"]["err_id"] == c[k]["history"]["err_id"]


@pytest.mark.slow
def test_dask_spreads_groups_over_both_workers_and_gives_the_same_records_as_local(tmp_path):
    """A local cluster of 2 worker processes x 1 thread: every group runs, both workers train some,
    and the records equal the local executor's (measurements, histories, configs, keys)."""
    pytest.importorskip("distributed")
    units = expand(load_claim(tiny(tmp_path), "quick"))
    execute(units, Store(store_root(tmp_path / "local")), make_executor("local"), progress=False)
    ex = make_executor("dask", jobs=2)
    try:
        workers = set(ex.client.scheduler_info()["workers"])
        counts = execute(
            units, Store(store_root(tmp_path / "dask")), ex, max_ensemble=1, progress=False
        )
    finally:
        ex.close()
    assert counts["done"] == len(units) == 4
    assert len(workers) == 2
    assert set(ex.ran_on) == {u.key for u in units}
    assert set(ex.ran_on.values()) == workers, ex.ran_on  # both workers trained groups
    assert records(tmp_path / "local") == records(tmp_path / "dask")


@pytest.mark.slow
def test_resume_after_kill_loses_nothing_and_runs_nothing_twice(tmp_path):
    claim_path = tiny(tmp_path, steps=400, reps=6)
    results = tmp_path / "results"
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "run",
        str(claim_path),
        "--results",
        str(results),
        "--no-progress",
        "--max-ensemble",
        "1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    # records are filed per unit, not per claim (harness.run.execution.NAMESPACE)
    store = results / "store" / "units"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(store.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: p.read_bytes() for p in store.glob("*.json")}
    assert 2 <= len(before) < 12, "the run must be killed mid-grid"
    assert not list(store.glob(".*.tmp")) or all(
        p.name.startswith(".") for p in store.glob(".*.tmp")
    )
    for body in before.values():
        json.loads(body)  # every record present is whole
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode in (0, 1), r.stderr
    after = {p.name: p.read_bytes() for p in store.glob("*.json")}
    assert len(after) == 12
    assert all(after[k] == v for k, v in before.items())  # finished records untouched
    done, measured, reused = re.search(
        r"(\d+) models trained, (\d+) measured on stored models, (\d+) records reused", r.stdout
    ).groups()
    # a model stored just before the kill is measured, not trained again
    assert int(done) + int(measured) == 12 - len(before) and int(reused) == len(before)


@pytest.mark.slow
def test_pytest_plugin_outcomes_follow_verdicts(tmp_path):
    """One S1 value makes the trend claim INCONCLUSIVE for sure: skipped, xfailed when recorded,
    failed when strict."""
    expect = '[expectation]\nverdict = "INCONCLUSIVE"\nreason = "recorded for the test"\n'
    for name, extra in (("tiny-a", ""), ("tiny-b", expect)):
        p = tiny(tmp_path, name, steps=40, reps=2, expectation=extra)
        p.write_text(p.read_text().replace('"data.S1" = [0.5, 1.0]', '"data.S1" = [1.0]'))

    def run(*args: str) -> str:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(tmp_path / "claims"),
                "-q",
                "-rA",
                "-p",
                "no:cacheprovider",
                "--iclcheck",
                "--iclcheck-results",
                str(tmp_path / "res"),
                *args,
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        return r.stdout + r.stderr

    out = run("-k", "tiny-b")
    assert "1 xfailed" in out and "1 deselected" in out and "recorded for the test" in out, out
    out = run("-k", "tiny-a")
    assert "1 skipped" in out and "1 deselected" in out and "INCONCLUSIVE" in out, out
    out = run("-k", "tiny-a", "--iclcheck-strict")
    assert "1 failed" in out and "prediction:" in out and "measurement:" in out, out
    reports = [p.read_text() for p in (tmp_path / "res" / "runs").glob("*/report.md")]
    assert reports and all(
        "? models" not in r and "records written at commit" in r for r in reports
    ), reports[:1]


@pytest.mark.slow
def test_default_results_follow_the_working_directory_not_the_package(tmp_path):
    """Installed (tox, pip), the package lives in site-packages: the store and report must still
    land in the checkout's results/ (pytest: under the rootdir; CLI: under the working directory),
    never beside the package."""
    tiny(tmp_path, steps=20, reps=1)
    env = {k: v for k, v in os.environ.items() if k != "ICLCHECK_RESULTS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "claims",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "--iclcheck",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert list((tmp_path / "results" / "runs").glob("*/report.md")), r.stdout + r.stderr
    assert list((tmp_path / "results" / "store" / "units").glob("*.json"))
    r = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--no-progress", "--out", "cli-run"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert r.returncode in (0, 1), r.stderr
    # the CLI found claims/ and the store under the working directory
    assert "0 models trained, 0 measured on stored models, 2 records reused" in r.stdout
    assert (tmp_path / "cli-run" / "report.md").exists()
    # the reused records' code
    assert "records written at commit" in (tmp_path / "cli-run" / "report.md").read_text()
    assert not (ROOT / "results" / "store" / "tiny").exists()


def test_results_do_not_make_the_checkout_dirty(tmp_path):
    """A run that rewrites a committed reference report under results/ has not changed the code: no
    '+dirty'."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    (tmp_path / "results").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "report.md").write_text("old\n")
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "c"]):
        subprocess.run(git + cmd, cwd=tmp_path, check=True, capture_output=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True
    ).stdout.strip()
    (tmp_path / "results" / "report.md").write_text("new\n")
    assert _git_commit_in(tmp_path) == head
    assert _git_commit_in(tmp_path / "results") == head  # from a subfolder too
    (tmp_path / "code.py").write_text("x = 2\n")
    assert _git_commit_in(tmp_path) == head + "+dirty"


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "claims",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )


def test_pytest_plugin_collects_claims_only_when_asked(tmp_path):
    """A project with the package installed and a claims/ folder collects nothing unless the run
    asks for claims."""
    tiny(tmp_path)
    r = _pytest(tmp_path, "--collect-only", "-q")
    # 5: no tests collected
    assert r.returncode == 5 and "tiny" not in r.stdout, r.stdout + r.stderr
    # --iclcheck: the other plugin tests
    r = _pytest(tmp_path, "--collect-only", "-q", "--iclcheck-profile", "quick")
    assert r.returncode == 0 and "tiny.toml::tiny" in r.stdout, r.stdout + r.stderr
    (tmp_path / "pytest.ini").write_text("[pytest]\niclcheck_claims = true\n")
    r = _pytest(tmp_path, "--collect-only", "-q")
    assert r.returncode == 0 and "tiny.toml::tiny" in r.stdout, r.stdout + r.stderr


FAKE_JUDGE = """
import harness.run.runner as runner
from harness.claims.verdicts import Verdict

# each significant alone at 5%; under Holm over both neither survives (0.06, 0.06);
# under BH both do
P_REFUTE = {"c1": 0.03, "c2": 0.04}


def judge(claim, records, expected_units=0):
    return Verdict(
        claim.id, "test", "s", claim.kind, claim.profile, "REFUTED", "p", "m", "o", 3, 2,
        p_refute=P_REFUTE[claim.id],
    )


runner.judge = judge
def execute(units, store, executor, **kw):
    return {"done": 0, "skipped": len(units), "crashed": 0}


runner.execute = execute
"""


def test_pytest_plugin_applies_the_cli_family_control_across_the_selected_claims(tmp_path):
    """Claims are judged together, then Holm (or BH) across those selected, as the CLI does; each
    test reports its adjusted verdict. Training and judging are replaced by fixed refutation
    p-values (conftest)."""
    for name in ("c1", "c2"):
        tiny(tmp_path, name)
    (tmp_path / "conftest.py").write_text(FAKE_JUDGE)
    res = ["--iclcheck", "--iclcheck-results", str(tmp_path / "res"), "-rA"]
    r = _pytest(tmp_path, *res)
    assert "2 skipped" in r.stdout and r.stdout.count("does not survive holm adjustment") == 2, (
        r.stdout + r.stderr
    )
    (report,) = (tmp_path / "res" / "runs").glob("*/report.md")
    assert "family-wise control of refutations: holm" in report.read_text()
    r = _pytest(tmp_path, *res, "--iclcheck-family", "bh", "--iclcheck-no-report")
    assert "2 failed" in r.stdout, r.stdout + r.stderr
    r = _pytest(tmp_path, *res, "-k", "c2", "--iclcheck-no-report")  # a family of one: 0.04 stands
    assert "1 failed, 1 deselected" in r.stdout, r.stdout + r.stderr
