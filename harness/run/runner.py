"""Run claims end to end: expand, execute (resuming), judge, control the family."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.claims.claim import Claim
from harness.run.execution import Executor, execute
from harness.claims.grid import expand
from harness.run.store import Store
from harness.claims.verdicts import Verdict, family_control, judge


@dataclass
class ClaimRun:
    claim: Claim
    verdict: Verdict
    records: list[dict]
    seconds: float
    counts: dict[str, int]


def run_claim(claim: Claim, store: Store, executor: Executor, max_ensemble: int = 64, progress: bool = True,
              log: Callable[[str], None] | None = None) -> ClaimRun:
    """Train what is missing for one claim, then judge it from its stored records."""
    t0 = time.perf_counter()
    units = expand(claim)
    counts = execute(units, store, executor, max_ensemble=max_ensemble, progress=progress, log=log)
    records = store.records(claim.id, [u.key for u in units])
    verdict = judge(claim, records, expected_units=len(units))
    return ClaimRun(claim, verdict, records, time.perf_counter() - t0, counts)


def run_claims(claims: list[Claim], results_dir: str | Path, executor: Executor, max_ensemble: int = 64,
               progress: bool = True, family: str = "holm", log: Callable[[str], None] | None = None) -> list[ClaimRun]:
    """All claims, then family-wise control of refutations across them."""
    store = Store(results_dir)
    runs = [run_claim(c, store, executor, max_ensemble, progress, log) for c in claims]
    family_control([r.verdict for r in runs], family)
    return runs
