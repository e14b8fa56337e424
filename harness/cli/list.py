"""`iclcheck list`: the claim files, their kind and what each predicts."""

from __future__ import annotations

import argparse

from harness.cli.base import Command


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "paths", nargs="*", metavar="PATH", help="claim files or folders (default: claims/)"
    )


def run(a: argparse.Namespace) -> int:
    from harness.loading import load_claims
    from harness.report import terminal
    from harness.run.paths import claims_dir

    claims = load_claims(a.paths or [claims_dir()], "quick")
    print(
        terminal.table(
            ((c.id, c.kind, f"{c.source}: {c.statement}") for c in claims),
            headers=("claim", "kind", "source: statement"),
        )
    )
    return 0


COMMAND = Command(
    name="list",
    help="list the claim files",
    add_arguments=add_arguments,
    run=run,
    examples=("iclcheck list", "iclcheck list claims/prune-small.toml"),
)
