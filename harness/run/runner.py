"""Run claims end to end: expand, execute (resuming), judge, control the family."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.claims.claim import Claim
from harness.claims.grid import expand
from harness.claims.record import Record
from harness.claims.verdicts import Verdict, family_control, judge
from harness.core.fingerprint import code_fingerprint
from harness.run.execution import Executor, execute, find_record
from harness.run.paths import store_root
from harness.run.store import Store


@dataclass
class ClaimRun:
    claim: Claim
    verdict: Verdict
    records: list[Record]
    seconds: float
    counts: dict[str, int]

    @property
    def stale_records(self) -> list[Record]:
        """Records reused from other code (another code fingerprint; only under reuse_stale)."""
        return [r for r in self.records if r.fingerprint != code_fingerprint()]


def run_claim(claim: Claim, store: Store, executor: Executor, max_ensemble: int = 64, progress: bool = True,
              log: Callable[[str], None] | None = None, reuse_stale: bool = False) -> ClaimRun:
    """Train what is missing for one claim, then judge it from its stored records."""
    t0 = time.perf_counter()
    units = expand(claim, executor.device)
    counts = execute(units, store, executor, max_ensemble=max_ensemble, progress=progress, log=log, reuse_stale=reuse_stale)
    found = [find_record(store, u, reuse_stale) for u in units]
    records = [r for r in found if r is not None]
    verdict = judge(claim, records, expected_units=len(units))
    run = ClaimRun(claim, verdict, records, time.perf_counter() - t0, counts)
    stale = run.stale_records
    if stale:
        prints = ", ".join(sorted({r.fingerprint for r in stale}))
        verdict.notes.append(f"{len(stale)} of {len(records)} records reused from other code (--reuse-stale; "
                             f"code fingerprint {prints}, this code {code_fingerprint()})")
    return run


def run_claims(claims: list[Claim], results_dir: str | Path, executor: Executor, max_ensemble: int = 64,
               progress: bool = True, family: str = "holm", log: Callable[[str], None] | None = None,
               reuse_stale: bool = False) -> list[ClaimRun]:
    """All claims, then family-wise control of refutations across them."""
    store = Store(store_root(Path(results_dir)), log)
    runs = [run_claim(c, store, executor, max_ensemble, progress, log, reuse_stale) for c in claims]
    family_control([r.verdict for r in runs], family)
    return runs
