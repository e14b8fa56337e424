"""Committed references change only on purpose: where ordinary runs and deliberate refreshes write,
which robustness report claim reports join, and the machine a reference records."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from harness.cli.fuzz import add_arguments, fuzz_options
from harness.fuzz.campaign import FuzzOptions, report_dir
from harness.report.claim_report import robustness_section
from harness.run.paths import (
    bench_result_path,
    fuzz_latest_dir,
    fuzz_reference_dir,
    report_created,
    results_root,
    robustness_report_dir,
)
from harness.run.provenance import machine


def _report(folder: Path, created: str | None, answers: tuple[str, ...] = ("- an answer",)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"profile": "quick", "git_commit": "abc", "answers": list(answers)}
    if created is not None:
        data["created"] = created
    (folder / "summary.json").write_text(json.dumps(data))
    (folder / "report.md").write_text("# report\n")
    return folder


def _fuzz_args(root: Path, *argv: str) -> FuzzOptions:
    ap = argparse.ArgumentParser()
    add_arguments(ap)
    return fuzz_options(ap.parse_args(["--root", str(root), *argv]))


def test_layout_under_the_results_folder(tmp_path):
    assert fuzz_latest_dir(tmp_path) == tmp_path / "fuzz" / "latest"
    assert fuzz_reference_dir(tmp_path) == tmp_path / "reference" / "fuzz"
    assert bench_result_path(False, tmp_path) == tmp_path / "benchmarks" / "latest.json"
    assert bench_result_path(True, tmp_path) == tmp_path / "benchmarks" / "reference.json"


def test_results_env_moves_every_path(tmp_path, monkeypatch):
    monkeypatch.setenv("ICLCHECK_RESULTS", str(tmp_path / "elsewhere"))
    assert results_root() == tmp_path / "elsewhere"
    assert fuzz_reference_dir() == tmp_path / "elsewhere" / "reference" / "fuzz"
    assert bench_result_path(True) == tmp_path / "elsewhere" / "benchmarks" / "reference.json"


def test_the_repository_commits_the_references_and_ignores_the_local_outputs():
    repo = Path(__file__).resolve().parent.parent
    assert (fuzz_reference_dir(repo / "results") / "summary.json").is_file()
    assert bench_result_path(True, repo / "results").is_file()
    ignored = (repo / ".gitignore").read_text().splitlines()
    assert (
        "results/fuzz/latest/" in ignored
        and "results/benchmarks/latest.json" in ignored
        and ".benchmarks/" in ignored
    )


def test_claim_reports_use_the_committed_reference_without_a_local_report(tmp_path):
    # neither: the reference path, absent
    assert robustness_report_dir(tmp_path) == fuzz_reference_dir(tmp_path)
    _report(fuzz_reference_dir(tmp_path), "2026-01-01T00:00:00+00:00")
    assert robustness_report_dir(tmp_path) == fuzz_reference_dir(tmp_path)


def test_claim_reports_use_a_newer_local_report(tmp_path):
    _report(fuzz_reference_dir(tmp_path), "2026-01-01T00:00:00+00:00")
    _report(fuzz_latest_dir(tmp_path), "2026-02-01T00:00:00+00:00")
    assert robustness_report_dir(tmp_path) == fuzz_latest_dir(tmp_path)
    # naive stamps read as UTC, and compare
    _report(fuzz_latest_dir(tmp_path), "2026-02-01T00:00:00")
    assert robustness_report_dir(tmp_path) == fuzz_latest_dir(tmp_path)


def test_a_refreshed_reference_wins_over_an_older_local_report(tmp_path):
    _report(fuzz_latest_dir(tmp_path), "2026-02-01T00:00:00+00:00")
    _report(fuzz_reference_dir(tmp_path), "2026-03-01T00:00:00+00:00")
    assert robustness_report_dir(tmp_path) == fuzz_reference_dir(tmp_path)


def test_a_local_report_only_or_an_unreadable_one(tmp_path):
    _report(fuzz_latest_dir(tmp_path), "2026-02-01T00:00:00+00:00")
    assert robustness_report_dir(tmp_path) == fuzz_latest_dir(tmp_path)
    (fuzz_latest_dir(tmp_path) / "summary.json").write_text("{not json")
    _report(fuzz_reference_dir(tmp_path), "2026-01-01T00:00:00+00:00")
    assert report_created(fuzz_latest_dir(tmp_path)) is None
    assert robustness_report_dir(tmp_path) == fuzz_reference_dir(tmp_path)
    _report(fuzz_latest_dir(tmp_path), None)  # no stamp: cannot be compared, the reference is used
    assert robustness_report_dir(tmp_path) == fuzz_reference_dir(tmp_path)


def test_fuzz_writes_locally_unless_asked_to_refresh(tmp_path):
    assert report_dir(_fuzz_args(tmp_path), tmp_path) == tmp_path / "latest"
    assert (
        report_dir(_fuzz_args(tmp_path, "--out", str(tmp_path / "mine")), tmp_path)
        == tmp_path / "mine"
    )
    assert report_dir(_fuzz_args(tmp_path, "--refresh-reference"), tmp_path) == fuzz_reference_dir()


@pytest.mark.parametrize(
    "partial",
    [["--axes", "coherence"], ["--no-campaign"], ["--no-budget-probe"], ["--no-task-graph"]],
)
def test_a_reference_refresh_is_a_full_run(tmp_path, partial):
    with pytest.raises(ValueError, match="full run"):
        report_dir(_fuzz_args(tmp_path, "--refresh-reference", *partial), tmp_path)


def test_refresh_and_out_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _fuzz_args(tmp_path, "--refresh-reference", "--out", str(tmp_path / "x"))
    assert "not allowed with" in capsys.readouterr().err


def test_machine_names_cpu_threads_torch_and_commit():
    m = machine()
    assert m["threads"] == torch.get_num_threads() and m["torch"] == torch.__version__
    assert (
        isinstance(m["cpu"], str)
        and m["cpu"]
        and isinstance(m["git_commit"], str)
        and m["git_commit"]
    )


def test_claim_report_names_the_machine_of_a_reference(tmp_path):
    folder = _report(fuzz_reference_dir(tmp_path), "2026-01-01T00:00:00+00:00")
    plain = "\n".join(robustness_section(tmp_path / "run", folder))
    assert "- an answer" in plain and "threads" not in plain
    (folder / "machine.json").write_text(
        json.dumps({"cpu": "Some CPU 9000", "threads": 7, "torch": "9.9"})
    )
    text = "\n".join(robustness_section(tmp_path / "run", folder))
    assert (
        "on Some CPU 9000 with 7 threads, torch 9.9" in text
        and "../reference/fuzz/report.md" in text
    )


def test_refresh_writes_the_reference_and_its_machine(tmp_path, monkeypatch):
    """The CLI's plumbing, with the training parts replaced: the report lands in the reference
    folder with machine.json."""
    import harness.fuzz.campaign as campaign

    monkeypatch.setenv("ICLCHECK_RESULTS", str(tmp_path))
    for name in (
        "run_sweep",
        "run_budget_probe",
        "run_task_graph_probe",
        "run_campaign",
        "pick_failures",
    ):
        monkeypatch.setattr(campaign, name, lambda *a, **k: [])
    written: list[Path] = []

    def fake_report(out, *a, **k):
        written.append(Path(out))
        return _report(Path(out), "2026-01-01T00:00:00+00:00") / "report.md"

    monkeypatch.setattr(campaign, "write_report", fake_report)
    assert (
        campaign.run_fuzz(
            campaign.plan_fuzz(
                _fuzz_args(
                    tmp_path / "fuzz",
                    "--refresh-reference",
                    "--threads",
                    str(torch.get_num_threads()),
                )
            )
        )
        == 0
    )
    assert written == [tmp_path / "reference" / "fuzz"]
    assert (
        json.loads((written[0] / "machine.json").read_text())["threads"] == torch.get_num_threads()
    )
    assert (
        campaign.run_fuzz(
            campaign.plan_fuzz(
                _fuzz_args(tmp_path / "fuzz", "--threads", str(torch.get_num_threads()))
            )
        )
        == 0
    )
    assert written[1] == tmp_path / "fuzz" / "latest" and not (written[1] / "machine.json").exists()


def test_the_default_fuzz_folder_is_resolved_when_used_not_at_import(tmp_path, monkeypatch):
    from harness.fuzz.profiles import DEFAULT_ROOT, resolve_root
    from harness.fuzz.strategies import example_database

    monkeypatch.setenv("ICLCHECK_RESULTS", str(tmp_path / "moved"))
    assert resolve_root(DEFAULT_ROOT) == tmp_path / "moved" / "fuzz"
    assert example_database().path == tmp_path / "moved" / "fuzz" / "db"
    assert resolve_root(tmp_path / "x") == tmp_path / "x"
