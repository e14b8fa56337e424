"""`iclcheck list`: the claim files, their kind and what each predicts."""

from __future__ import annotations

import argparse

from harness.cli.base import Command, add_claim_paths


def add_arguments(s: argparse.ArgumentParser) -> None:
    add_claim_paths(s)


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
