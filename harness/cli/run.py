"""`iclcheck run`: train what the store lacks, judge the claims, write the run folder, print the
verdicts."""

from __future__ import annotations

import argparse
import sys

from harness.cli.base import Command, add_claim_paths
from harness.session.errors import EXIT_CODES, EXIT_FAILED, EXIT_OK
from harness.session.options import RunOptions, add_argparse_options, from_namespace


def add_run_arguments(s: argparse.ArgumentParser, profile: str = "quick") -> None:
    """The claim paths and the shared run options (harness.session.options), for run and
    nightly."""
    add_claim_paths(s)
    add_argparse_options(s, {"profile": profile})


def run_options(a: argparse.Namespace) -> RunOptions:
    return from_namespace(a, paths=tuple(a.paths))


def prepare(options: RunOptions):
    """A RunSession with every check passed: options, claim files, multiverse (exit 2 if not)."""
    from harness.session.session import RunSession

    session = RunSession(options)
    session.prepare(session.load())
    return session


def execute_and_print(session):
    """Train, judge and report through the session, then its summary on stdout; the RunResult."""
    from harness.session.summary import stale_warnings, summary_lines

    result = session.write_report(session.execute())
    print("\n".join(summary_lines(result)))
    for w in stale_warnings(result):
        print(f"warning: {w}", file=sys.stderr)
    return result


def run(a: argparse.Namespace) -> int:
    session = prepare(run_options(a))
    if session.options.dry_run:
        print("\n".join(session.plan_lines()))
        return EXIT_OK
    return EXIT_FAILED if execute_and_print(session).failed else EXIT_OK


COMMAND = Command(
    name="run",
    help="train, measure and judge claims",
    description="Train what the store lacks (reusing every stored model of the same code), judge "
    "each claim against its prediction, and write report.md, report.html and verdicts.json.",
    add_arguments=add_run_arguments,
    run=run,
    examples=(
        "iclcheck run                                every claim, quick profile",
        "iclcheck run claims/prune-small.toml        one claim file",
        "iclcheck run -k lts --profile nightly       the nightly grids of the lts-* claims",
        "iclcheck run --multiverse --multiverse-only beta-3   one alternative world as well",
        "iclcheck run --dry-run                      what would train, measure, reuse; how long",
    ),
    exit_codes=EXIT_CODES,
)
