"""`iclcheck report RUN`: a finished run's verdict table, from its folder."""

from __future__ import annotations

import argparse

from harness.cli.base import Command


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("run", metavar="RUN", help="a run folder (holds verdicts.json)")


def run(a: argparse.Namespace) -> int:
    from harness.report import terminal
    from harness.report.run_folders import load_run

    stored = load_run(a.run)
    m = stored.meta
    print(
        terminal.clip(
            f"profile {m.get('profile')} | commit {m.get('git_commit')} | device {m.get('device')}",
            terminal.width(),
        )
    )
    print(terminal.stored_table(stored.verdicts))
    return 0


COMMAND = Command(
    name="report",
    help="print a run's verdict table",
    add_arguments=add_arguments,
    run=run,
    examples=("iclcheck report results/reference/nightly-cpu",),
)
