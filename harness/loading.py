"""Load the claims a command will run: every file validated, then the checks that span files or
layers.

`harness.claims.schema` validates one file on its own (every profile). Here, above every layer, the
claims of one invocation are also checked against each other (no two files share an id: they would
share one verdict, report section and plot name in the run folder) and against what higher layers
register (the paper-comparison figure a claim names must exist in `harness.report.figures`), and
each claim's `[multiverse]` narrowing against the multiverse file (`harness.claims.multiverse`). The
CLI and the pytest plugin both load through `load_claims`, so they accept the same files. Then every
file's analysis plan is checked against the reference run's (harness.claims.ledger): a plan changed
after a verdict with no `[[changes]]` entry is refused here, before any run."""

from __future__ import annotations

from pathlib import Path

from harness.claims import ledger
from harness.claims.claim import Claim
from harness.claims.multiverse import check_narrowings
from harness.claims.schema import ClaimError, discover, load_claim, suggest
from harness.report.figures import FIGURES
from harness.run.paths import claims_dir


def check_references(claim: Claim) -> None:
    """ClaimError if the claim names a figure no module registered."""
    if claim.figure and claim.figure not in FIGURES:
        raise ClaimError(
            f"{claim.path}: figure: unknown figure {claim.figure!r}"
            + suggest(claim.figure, FIGURES)
        )


def load_claims(
    paths: list[str | Path], profile: str, k: str | None = None, reference: str | Path | None = None
) -> list[Claim]:
    """Discover, load and validate claim files for one profile; `k` keeps ids containing it.
    ClaimError if two files of the invocation share an id, or a plan changed since the reference run
    (`reference`: see ledger.reference_dir) without a [[changes]] entry."""
    claims: list[Claim] = []
    first: dict[str, str] = {}
    for f in discover(paths):
        c = load_claim(f, profile)
        check_references(c)
        if c.id in first:
            raise ClaimError(
                f"{c.path}: id: {c.id!r} is also the id of {first[c.id]} (each claim id names one "
                "verdict, report section and plot)"
            )
        first[c.id] = c.path
        claims.append(c)
    ledger.enforce([c.path for c in claims], reference)
    # each [multiverse] skip names a declared alternative
    check_narrowings([c.path for c in claims], claims_dir())
    if k:
        claims = [c for c in claims if k in c.id]
    return claims
