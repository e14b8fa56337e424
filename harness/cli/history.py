"""`iclcheck history`: verdicts and estimates across runs (the nightly view)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.base import Command, warn
from harness.cli.compare import add_compare_options, check_drift_z
from harness.session.errors import UsageError


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "runs", nargs="*", metavar="RUN", help="run folders (default: every run under RESULTS/runs)"
    )
    s.add_argument(
        "--results", default=None, help="results folder (default $ICLCHECK_RESULTS, else results/)"
    )
    add_compare_options(s, fail_on=False)


def run(a: argparse.Namespace) -> int:
    from harness.report.compare import history
    from harness.run.paths import results_root

    check_drift_z(a.drift_z)
    runs = Path(a.results or results_root()) / "runs"
    dirs = a.runs or sorted(str(p.parent) for p in runs.glob("*/verdicts.json"))
    if not dirs:
        raise UsageError(f"no runs under {runs}")
    print(history(dirs, warn=warn, threshold=a.drift_z))
    return 0


COMMAND = Command(
    name="history",
    help="verdicts and estimates across runs (nightly view)",
    add_arguments=add_arguments,
    run=run,
    examples=("iclcheck history", "iclcheck history results/runs/2026-12-0*"),
)
