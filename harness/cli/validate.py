"""`iclcheck validate`: every claim file in both profiles, and the checks across files and against
the reference run's plans, without training anything."""

from __future__ import annotations

import argparse
import sys

from harness.cli.base import Command, add_claim_paths
from harness.cli.ledger import add_reference_option
from harness.session.errors import EXIT_BAD_INPUT, EXIT_OK


def add_arguments(s: argparse.ArgumentParser) -> None:
    add_claim_paths(s)
    add_reference_option(s)


def run(a: argparse.Namespace) -> int:
    """Every file in both profiles (load_claim checks both): the first error of each file, then
    the checks across files."""
    from harness.core.choices import PROFILES
    from harness.loading import load_claims, validation_errors
    from harness.run.paths import claims_dir

    paths = a.paths or [claims_dir()]
    errors = validation_errors(paths, a.reference)
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        files = len({e.split(": ", 1)[0] for e in errors})
        if len(errors) > 1:  # one bad file with one error stays one line
            print(f"{len(errors)} errors in {files} files", file=sys.stderr)
        return EXIT_BAD_INPUT
    claims = load_claims(paths, "quick", reference=a.reference)
    print(f"ok: {len(claims)} claim files valid in profiles {', '.join(PROFILES)}")
    return EXIT_OK


COMMAND = Command(
    name="validate",
    help="validate claim files (both profiles) without training",
    add_arguments=add_arguments,
    run=run,
    examples=("iclcheck validate", "iclcheck validate my-claims/ --reference none"),
    exit_codes=f"exit codes:\n  {EXIT_OK}  every file valid\n"
    f"  {EXIT_BAD_INPUT}  a file is not (one line per error, by file: FILE: KEY: what is wrong)\n",
)
