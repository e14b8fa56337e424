"""`iclcheck compare A B`: a baseline run A against a new run B, verdict flips and drifts; and the
options and printing `nightly` and `history` share."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.base import Command, warn
from harness.core.jsonio import atomic_write_text
from harness.report import terminal
from harness.report.compare import (
    DRIFT_Z,
    FAIL_ON,
    Comparison,
    compare,
    comparison_json,
    terminal_rows,
)
from harness.session.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, UsageError

EXIT_CODES = f"""exit codes:
  {EXIT_OK}  no failure by --fail-on (default: no unexpected flip)
  {EXIT_FAILED}  an unexpected flip: the new verdict is REFUTED or ERROR, or the baseline was
     CONFIRMED, and the claim's recorded expectation does not name the new verdict
     (--fail-on any-change: any flip, drift or added claim; claims not run are none)
  {EXIT_BAD_INPUT}  bad input: an unreadable run folder, runs of different profiles
     (without --allow-mismatch), an option
  {EXIT_INTERNAL}  internal error: one line names the log file holding the traceback
"""


def add_compare_options(s: argparse.ArgumentParser, fail_on: bool = True) -> None:
    s.add_argument(
        "--drift-z",
        type=float,
        default=DRIFT_Z,
        metavar="Z",
        help="flag an estimate that moved by more than Z combined standard errors "
        "(default %(default)s)",
    )
    if not fail_on:
        return
    s.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="flip",
        help="exit 1 on: an unexpected flip (default), any flip, drift or added claim (a "
        "claim of the baseline not run is no change), or never",
    )
    s.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="compare runs of different profiles (refused by default)",
    )


def check_drift_z(z: float) -> None:
    if not z > 0:
        raise UsageError(f"--drift-z {z}: must be > 0")


def show(cmp: Comparison) -> None:
    """The comparison's warnings, its table and its counts."""
    for w in cmp.warnings:
        warn(w)
    print(
        terminal.table(
            terminal_rows(cmp), headers=("claim", "verdict", "change since the baseline")
        )
    )
    k = cmp.counts()
    print(
        f"\n{k['claims']} claims: {k['flips']} flips ({k['unexpected_flips']} unexpected), "
        f"{k['drifts']} drifts (|z| > {cmp.threshold:g}), {k['added']} added"
    )
    if cmp.not_run:
        print(cmp.not_run_line(terminal.width()))


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("a", metavar="A", help="baseline run folder")
    s.add_argument("b", metavar="B", help="new run folder")
    add_compare_options(s)
    s.add_argument(
        "--json", default=None, metavar="FILE", help="also write the comparison as JSON to FILE"
    )


def run(a: argparse.Namespace) -> int:
    """A (baseline) against B (new); exit 1 when --fail-on says the change is a failure."""
    check_drift_z(a.drift_z)
    cmp = compare(a.a, a.b, a.drift_z, a.allow_mismatch)
    show(cmp)
    if a.json:
        atomic_write_text(Path(a.json), comparison_json(cmp))
    return EXIT_FAILED if cmp.failed(a.fail_on) else EXIT_OK


COMMAND = Command(
    name="compare",
    help="compare a baseline run A with a new run B: verdict flips and drifts",
    add_arguments=add_arguments,
    run=run,
    examples=(
        "iclcheck compare results/reference/nightly-cpu results/runs/<run>",
        "iclcheck compare A B --fail-on any-change --json compare.json",
    ),
    exit_codes=EXIT_CODES,
)
