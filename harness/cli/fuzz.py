"""`iclcheck fuzz`: the robustness sweep, its probes, the Hypothesis campaign and its shrinking,
then the report (results/fuzz/latest/, or the committed reference with --refresh-reference)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from harness.cli.base import Command
from harness.session.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, InternalError, one_line


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--profile",
        choices=("quick", "nightly"),
        default=os.environ.get("ICLCHECK_FUZZ_PROFILE") or "quick",
        help="fuzz profile (default $ICLCHECK_FUZZ_PROFILE, else quick)",
    )
    where = ap.add_mutually_exclusive_group()
    where.add_argument(
        "--out", default=None, metavar="DIR", help="report folder (default ROOT/latest, untracked)"
    )
    where.add_argument(
        "--refresh-reference",
        action="store_true",
        help="rewrite the committed report (results/reference/fuzz) and record the machine",
    )
    ap.add_argument(
        "--root",
        default=None,
        metavar="DIR",
        help="fuzz folder: records/, db/ (default results/fuzz)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("ICLCHECK_FUZZ_THREADS", "1")),
        help="torch CPU threads (default 1: the machine is shared)",
    )
    ap.add_argument(
        "--seed",
        type=int,
        default=None,
        help="Hypothesis seed of the campaign (default: 0 for quick, random for nightly)",
    )
    ap.add_argument("--no-campaign", action="store_true", help="only the sweep")
    ap.add_argument(
        "--no-budget-probe",
        action="store_true",
        help="skip retraining the breaking grid points with more steps",
    )
    ap.add_argument(
        "--no-task-graph",
        action="store_true",
        help="skip the probe of uniformly covering T_tr shapes",
    )
    ap.add_argument("--axes", nargs="*", default=None, metavar="AXIS", help="only these sweep axes")


def fuzz_options(a: argparse.Namespace):
    """The typed FuzzOptions of a parsed command line."""
    from harness.fuzz.campaign import FuzzOptions

    return FuzzOptions(
        profile=a.profile,
        out=Path(a.out) if a.out else None,
        refresh_reference=a.refresh_reference,
        root=Path(a.root) if a.root else None,
        threads=a.threads,
        seed=a.seed,
        campaign=not a.no_campaign,
        budget_probe=not a.no_budget_probe,
        task_graph=not a.no_task_graph,
        axes=tuple(a.axes or ()),
    )


def run(a: argparse.Namespace) -> int:
    """Options checked first (exit 2); then a failure while fuzzing is internal (exit 3)."""
    from harness.fuzz.campaign import plan_fuzz, run_fuzz

    plan = plan_fuzz(fuzz_options(a))
    try:
        return run_fuzz(plan)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        raise InternalError(one_line(exc)) from exc


COMMAND = Command(
    name="fuzz",
    help="fuzz the theory's assumptions: robustness sweep, Hypothesis campaign, report",
    add_arguments=add_arguments,
    run=run,
    examples=(
        "iclcheck fuzz                               quick sweep and campaign (minutes)",
        "iclcheck fuzz --axes coherence --no-campaign   one sweep axis only",
    ),
    exit_codes=f"exit codes:\n  {EXIT_OK}  the report was written\n"
    f"  {EXIT_BAD_INPUT}  bad input: an option\n"
    f"  {EXIT_INTERNAL}  internal error: one line names the log file holding the traceback\n",
)
