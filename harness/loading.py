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
from harness.claims.all_errors import file_errors
from harness.claims.claim import Claim
from harness.claims.multiverse import check_narrowings
from harness.claims.regime import apply_regime, regime_named
from harness.claims.schema import ClaimError, discover, load_claim, suggest
from harness.report.figures import FIGURES
from harness.run.paths import claims_dir


def figures_registered(claims: list[Claim], reference: str | Path | None) -> None:
    """Every figure a claim names is registered (harness.report.figures)."""
    for c in claims:
        if c.figure and c.figure not in FIGURES:
            raise ClaimError(
                f"{c.path}: figure: unknown figure {c.figure!r}" + suggest(c.figure, FIGURES)
            )


def ids_unique(claims: list[Claim], reference: str | Path | None) -> None:
    """No two files of the invocation share an id."""
    first: dict[str, str] = {}
    for c in claims:
        if c.id in first:
            raise ClaimError(
                f"{c.path}: id: {c.id!r} is also the id of {first[c.id]} (each claim id names one "
                "verdict, report section and plot)"
            )
        first[c.id] = c.path


def plans_logged(claims: list[Claim], reference: str | Path | None) -> None:
    """Every plan changed since the reference run has a [[changes]] entry (claims.ledger)."""
    ledger.enforce([c.path for c in claims], reference)


def narrowings_declared(claims: list[Claim], reference: str | Path | None) -> None:
    """Every [multiverse] skip names an alternative the multiverse file declares."""
    check_narrowings([c.path for c in claims], claims_dir())


# The checks across files, in order; each file was validated on its own first (schema.load_claim).
CHECKS_ACROSS_FILES = (figures_registered, ids_unique, plans_logged, narrowings_declared)


def load_claims(
    paths: list[str | Path],
    profile: str,
    k: str | None = None,
    reference: str | Path | None = None,
    regime: str | None = None,
) -> list[Claim]:
    """Discover, load and validate claim files for one profile, then run CHECKS_ACROSS_FILES, then
    put every claim under `regime` (harness.claims.regime; None or "default": the files' own
    setting); `k` keeps the ids containing it. ClaimError names the first file and key that
    fails."""
    claims = [load_claim(f, profile) for f in discover(paths)]
    for check in CHECKS_ACROSS_FILES:
        check(claims, reference)
    chosen = regime_named(claims_dir(), regime)
    claims = [apply_regime(c, chosen) for c in claims]
    return [c for c in claims if k in c.id] if k else claims


def validation_errors(paths: list[str | Path], reference: str | Path | None = None) -> list[str]:
    """Every problem `iclcheck validate` reports: every error of every file (one line each, FILE:
    KEY: what is wrong; harness.claims.all_errors), grouped by file in file order, then, when
    every file loads, the first check across files that fails; [] when all is valid."""
    errors, claims = [], []
    for f in discover(paths):
        found = file_errors(f)
        if found:
            errors += found
        else:
            claims.append(load_claim(f, "quick"))
    if errors:
        return errors
    for check in CHECKS_ACROSS_FILES:
        try:
            check(claims, reference)
        except (ClaimError, ValueError) as exc:
            return [str(exc).splitlines()[0]]
    return []
