"""`iclcheck ledger`: every claim's plan changes, logged and unlogged, against the reference run.

Per claim: its plan digest now and in the reference run (in the reference's profile), whether it
changed, and each `[[changes]]` entry with the old verdict; then every unlogged change in the
validator's one line."""

from __future__ import annotations

import argparse
import sys

from harness.cli.base import Command, add_claim_paths
from harness.core.choices import REFERENCE_ENV
from harness.session.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

EXIT_CODES = f"""exit codes:
  {EXIT_OK}  every plan change since the reference run has a [[changes]] entry
  {EXIT_FAILED}  a plan changed since the reference run with no [[changes]] entry
     (one line each: file, key, digests)
  {EXIT_BAD_INPUT}  bad input: a claim file or an option
"""


def add_reference_option(s: argparse.ArgumentParser) -> None:
    """--reference, shared with `validate`."""
    s.add_argument(
        "--reference",
        default=None,
        metavar="DIR",
        help="reference run folder whose verdicts' plans the claims are checked against "
        f"('none': no check; default ${REFERENCE_ENV}, else results/reference/nightly-cpu "
        "beside the claims folder)",
    )


def add_arguments(s: argparse.ArgumentParser) -> None:
    add_claim_paths(s)
    add_reference_option(s)


def _status(s) -> str:
    """A claim's plan status in two words."""
    if s.unlogged:
        return "UNLOGGED change"
    if s.logged_in_base:
        return "changed, logged in base"
    if s.logged:
        return "changed, logged"
    return s.note or "unchanged"


def run(a: argparse.Namespace) -> int:
    from harness.claims import ledger
    from harness.claims.schema import discover, load_claim
    from harness.report import ledger_section, terminal
    from harness.run.paths import claims_dir

    paths = discover(a.paths or [claims_dir()])
    for p in paths:
        load_claim(p)  # validates the file in every profile (bad input: exit 2)
    result = ledger.audit(paths, a.reference)
    for w in result.warnings:
        print(f"warning: ledger: {w}", file=sys.stderr)
    refs = (
        ", ".join(
            f"{terminal.short_path(r.folder)} (profile {r.profile}, commit {r.commit[:12] or '?'})"
            for r in result.references
        )
        or "none found (every claim counts as new)"
    )
    print(f"reference: {refs}")
    rows = [
        (
            s.claim_id,
            _status(s),
            f"plan {s.digest}"
            + (f" (reference {s.old_digest})" if s.changed else "")
            + (f" | {len(s.changes)} logged change(s)" if s.changes else ""),
        )
        for s in result.statuses
    ]
    print(terminal.table(rows, headers=("claim", "status", "plan now (reference) | log")))
    for s in result.statuses:
        if s.changes:
            print(f"\n{s.claim_id} ({terminal.short_path(s.path)}):")
            for c in s.changes:
                print(f"  - {ledger_section.describe(c)}")
    bases = {s.base_path: s.base_changes for s in result.statuses if s.base_changes}
    for path, entries in bases.items():
        print(f"\nbase file {terminal.short_path(path)}:")
        for c in entries:
            print(f"  - {ledger_section.describe(c)}")
    base_logged = [s.claim_id for s in result.statuses if s.logged_in_base]
    if base_logged:
        print(
            f"\nchanges logged in the base file re-plan {len(base_logged)} claim(s): "
            + ", ".join(base_logged)
        )
    for s in result.unlogged:
        print(f"\nerror: {s.line(result.touches(s))}")
    counts = {
        k: sum(_status(s) == k for s in result.statuses)
        for k in ("unchanged", "changed, logged", "changed, logged in base", "UNLOGGED change")
    }
    print(
        f"\n{len(result.statuses)} claims: "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + f", {sum(len(s.changes) for s in result.statuses)} [[changes]] entries"
    )
    return EXIT_FAILED if result.unlogged else EXIT_OK


COMMAND = Command(
    name="ledger",
    help="plan changes per claim: logged [[changes]] and unlogged differences from the reference",
    add_arguments=add_arguments,
    run=run,
    examples=("iclcheck ledger", "iclcheck ledger claims/prune-small.toml --reference DIR"),
    exit_codes=EXIT_CODES,
)
