"""Command line: pre-flight checks before any training, unique run folders, exit codes 0/1/2/3, and
report/compare/history on empty, partial or corrupt run folders."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from pathlib import Path

import pytest

import harness.cli as cli
from harness.run.paths import new_run_dir
from harness.session.checks import check_address
from harness.session.errors import write_error_log

CLAIM = str(Path(__file__).resolve().parent.parent / "claims" / "ood-s1.toml")


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a run gets as far as training."""

    def train(*a, **k):
        raise AssertionError("training started before the pre-flight checks failed")

    # every caller (the session, calibrate, multiverse_run) looks run_claims up on the runner
    # module at call time, so this one patch guards them all
    monkeypatch.setattr("harness.run.runner.run_claims", train)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("error: "), err
    return err


@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda0", "cuda:x", "cpu:0"])
def test_bad_device_exits_2_before_training(tmp_path, capsys, no_training, device):
    assert cli.main(["run", CLAIM, "--device", device, "--results", str(tmp_path / "r")]) == 2
    assert f"--device {device!r}: must be 'cpu', 'cuda' or 'cuda:N'" in one_error_line(capsys)


def test_missing_cuda_device_exits_2(tmp_path, capsys, no_training):
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert cli.main(["run", CLAIM, "--device", f"cuda:{n}", "--results", str(tmp_path)]) == 2
    assert f"--device cuda:{n}: " in one_error_line(capsys)


def test_results_that_is_a_file_exits_2_before_training(tmp_path, capsys, no_training):
    f = tmp_path / "file"
    f.write_text("x")
    assert cli.main(["run", CLAIM, "--results", str(f)]) == 2
    assert f"--results {f}: exists and is not a folder" in one_error_line(capsys)
    assert cli.main(["run", CLAIM, "--results", str(f / "sub")]) == 2
    assert f"--results {f / 'sub'}: not writable" in one_error_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_results_exits_2_before_training(tmp_path, capsys, no_training):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert cli.main(["run", CLAIM, "--results", str(ro)]) == 2
        assert "not writable" in one_error_line(capsys)
    finally:
        ro.chmod(0o700)


def test_out_that_is_a_file_exits_2_before_training(tmp_path, capsys, no_training):
    f = tmp_path / "out"
    f.write_text("x")
    assert cli.main(["run", CLAIM, "--results", str(tmp_path / "r"), "--out", str(f)]) == 2
    assert f"--out {f}: exists and is not a folder" in one_error_line(capsys)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_dask_scheduler_exits_2_quickly(tmp_path, capsys, no_training):
    t0 = time.perf_counter()
    addr = f"tcp://127.0.0.1:{_closed_port()}"
    assert (
        cli.main(
            ["run", CLAIM, "--results", str(tmp_path), "--executor", "dask", "--address", addr]
        )
        == 2
    )
    assert time.perf_counter() - t0 < 10
    assert f"--address {addr}: no Dask scheduler reachable" in one_error_line(capsys)


@pytest.mark.parametrize("addr", ["nohost", "tcp://:80", "tcp://host:port"])
def test_malformed_dask_address(addr):
    with pytest.raises(ValueError, match="must be tcp://HOST:PORT"):
        check_address(addr, timeout=0.5)


def test_reachable_address_passes():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        check_address(f"127.0.0.1:{s.getsockname()[1]}", timeout=1)
    finally:
        s.close()


def test_address_needs_the_dask_executor(tmp_path, capsys, no_training):
    assert cli.main(["run", CLAIM, "--results", str(tmp_path), "--address", "127.0.0.1:8786"]) == 2
    assert "only --executor dask" in one_error_line(capsys)


def test_run_folders_of_the_same_second_differ(tmp_path):
    t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    dirs = {new_run_dir(tmp_path, t, "quick") for _ in range(20)}
    assert len(dirs) == 20 and all(
        d.is_dir() and d.name.startswith("20240101T000000Z-quick-") for d in dirs
    )


def test_two_runs_write_two_reports(tmp_path, monkeypatch):
    monkeypatch.setattr("harness.run.runner.run_claims", lambda *a, **k: [])
    for _ in range(2):
        assert cli.main(["run", CLAIM, "--results", str(tmp_path), "--no-progress"]) == 0
    assert len(list((tmp_path / "runs").glob("*/report.md"))) == 2


def test_internal_error_exits_3_with_the_traceback_in_a_log(tmp_path, capsys, monkeypatch):
    def crash(*a, **k):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr("harness.run.runner.run_claims", crash)
    assert cli.main(["run", CLAIM, "--results", str(tmp_path), "--no-progress"]) == 3
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(
        "internal error: ZeroDivisionError: division by zero second line (traceback in "
    )
    log = Path(err.rsplit("(traceback in ", 1)[1].rstrip(")"))
    assert (
        log.parent == tmp_path / "logs"
        and "Traceback" in log.read_text()
        and "crash" in log.read_text()
    )


def test_a_value_error_after_preflight_is_internal_not_bad_input(tmp_path, capsys, monkeypatch):
    import harness.run.runner as runner

    monkeypatch.setattr(runner, "run_claims", lambda *a, **k: int("x"))
    assert cli.main(["run", CLAIM, "--results", str(tmp_path)]) == 3


def test_error_log_falls_back_to_a_temp_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        log = write_error_log(exc, f)
    try:
        assert log.is_file() and "RuntimeError: boom" in log.read_text() and f not in log.parents
    finally:
        log.unlink()


def test_help_documents_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for code in (
        "0  every verdict as expected",
        "1  an unexpected REFUTED",
        "2  bad input",
        "3  internal error",
    ):
        assert code in out
    docs = Path(__file__).resolve().parent.parent / "docs"
    cli_md = (docs / "cli.md").read_text()  # the one list of exit codes, generated from --help
    assert "2  bad input" in cli_md and "3  internal error" in cli_md
    assert "| 3 |" not in (docs / "running.md").read_text()  # not listed a second time


GOOD_RUN = {
    "meta": {"git_commit": "abc"},
    "verdicts": [
        {
            "claim_id": "c",
            "verdict": "CONFIRMED",
            "prediction": "p",
            "measurement": "m",
            "over": "o",
            "details": {},
        }
    ],
}


def _run(folder: Path, text: str | None) -> Path:
    folder.mkdir(parents=True)
    if text is not None:
        (folder / "verdicts.json").write_text(text)
    return folder


BROKEN_RUNS = {
    "empty": None,
    "blank": "",
    "garbage": "not json",
    "truncated": json.dumps(GOOD_RUN)[:40],
    "list": "[]",
    "no-verdicts": json.dumps({"meta": {}}),
    "field-missing": json.dumps({"meta": {}, "verdicts": [{"claim_id": "c"}]}),
    "details-list": json.dumps(
        {"meta": {}, "verdicts": [{**GOOD_RUN["verdicts"][0], "details": []}]}
    ),
}


@pytest.mark.parametrize("name", BROKEN_RUNS)
def test_report_and_compare_name_a_broken_run(tmp_path, capsys, name):
    bad = _run(tmp_path / name, BROKEN_RUNS[name])
    good = _run(tmp_path / "good", json.dumps(GOOD_RUN))
    assert cli.main(["report", str(bad)]) == 2
    assert str(bad) in one_error_line(capsys)
    assert cli.main(["compare", str(good), str(bad)]) == 2
    assert str(bad) in one_error_line(capsys)


def test_history_skips_broken_runs(tmp_path, capsys):
    runs = tmp_path / "runs"
    _run(runs / "1-good", json.dumps(GOOD_RUN))
    for i, text in enumerate(t for t in BROKEN_RUNS.values() if t is not None):
        _run(runs / f"2-bad{i}", text)
    assert cli.main(["history", "--results", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "1-good" in out and "CONFIRMED" in out and "2-bad" not in out
    assert err.count("warning: skipped") == 7 and "Traceback" not in err
    assert cli.main(["history", str(runs / "2-bad0")]) == 2


def test_fuzz_bad_option_is_2_and_a_failure_while_fuzzing_is_3(tmp_path, monkeypatch, capsys):
    from harness.fuzz import campaign

    assert cli.main(["fuzz", "--axes", "no_such_axis", "--root", str(tmp_path)]) == 2

    def boom(*a, **k):
        # a ValueError from inside the work is a bug, not bad input
        raise ValueError("a training step blew up")

    monkeypatch.setattr(campaign, "run_sweep", boom)
    # the error log goes there, not into the checkout
    monkeypatch.setenv("ICLCHECK_RESULTS", str(tmp_path / "results"))
    assert (
        cli.main(
            ["fuzz", "--no-campaign", "--root", str(tmp_path / "f"), "--out", str(tmp_path / "o")]
        )
        == 3
    )
    err = capsys.readouterr().err
    assert "internal error" in err and "a training step blew up" in err
    assert list((tmp_path / "results" / "logs").glob("*-error.log"))


# capsys: sys-level capture, no fd to redirect
def test_a_closed_pipe_is_not_an_error(monkeypatch, capsys):
    def closed(a):
        raise BrokenPipeError(32, "Broken pipe")

    import dataclasses

    import harness.cli.list as list_command

    monkeypatch.setattr(
        list_command, "COMMAND", dataclasses.replace(list_command.COMMAND, run=closed)
    )
    assert cli.main(["list"]) == 0


class _Config:
    """Stands in for pytest.Config: the plugin's options."""

    def __init__(self, tmp_path: Path, **opts):
        self.rootpath = tmp_path
        self.opts = {"results": str(tmp_path / "res"), **opts}

    def getoption(self, name: str):
        from harness.session.options import RUN_OPTIONS

        key = name.removeprefix("--iclcheck-")
        default = {o.long[2:]: o.default for o in RUN_OPTIONS}.get(key)
        return self.opts.get(key, default)


@pytest.mark.parametrize(
    "opts, message",
    [
        ({"address": "127.0.0.1:8786"}, "--iclcheck-address 127.0.0.1:8786: only --executor dask"),
        ({"jobs": 0}, "--iclcheck-jobs 0: must be >= 1"),
        ({"max-ensemble": 0}, "--iclcheck-max-ensemble 0: must be >= 1"),
        ({"device": "gpu"}, "--iclcheck-device 'gpu'"),
        ({"device": "cuda:99"}, "--iclcheck-device cuda:99"),
    ],
)
def test_pytest_plugin_checks_its_options_before_any_training(tmp_path, opts, message):
    from harness.pytest_plugin import check_options

    with pytest.raises(
        pytest.UsageError, match="^" + message.replace(".", r"\.").replace("(", r"\(")
    ):
        check_options(_Config(tmp_path, **opts))
    check_options(_Config(tmp_path))


def test_pytest_plugin_unreachable_scheduler_is_a_usage_error(tmp_path):
    import subprocess
    import sys

    addr = f"127.0.0.1:{_closed_port()}"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path),
            "-q",
            "-p",
            "no:cacheprovider",
            "--iclcheck",
            "--iclcheck-results",
            str(tmp_path / "res"),
            "--iclcheck-executor",
            "dask",
            "--iclcheck-address",
            addr,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert (
        r.returncode == 4 and f"--iclcheck-address {addr}: no Dask scheduler reachable" in r.stderr
    ), r.stdout + r.stderr
