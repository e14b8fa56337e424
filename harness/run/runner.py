"""Run claims end to end: plan every claim's units at once (deduplicated across claims), execute
them (resuming), judge each claim from its records, control the family."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.claims.claim import Claim
from harness.claims.control import ControlSpec, control_of, derive_control
from harness.claims.control_verdict import derived_result, flat_result, with_control
from harness.claims.record import Record
from harness.claims.verdicts import Verdict, collect_rows, family_control, judge
from harness.core.fingerprint import code_fingerprint
from harness.run.execution import Executor, execute, find_record
from harness.run.paths import store_root
from harness.run.plan import ClaimPlan, RunPlan, Sharing, claim_record, plan_run
from harness.run.store import Store

CONTROL_SUFFIX = "~control"  # a control claim's id in the plan (seeds do not depend on the id)


@dataclass(frozen=True)
class ClaimRun:
    """One claim's verdict and records. `counts` attributes each model to the first claim of the run
    that uses it, so summing over claims counts every model once; `sharing` says which models other
    claims use too."""

    claim: Claim
    verdict: Verdict
    records: list[Record]
    seconds: float
    counts: dict[str, int]
    sharing: Sharing | None = None
    # the run's plan: units requested, models planned
    planned: dict[str, int] = field(default_factory=dict)
    # the claim's control run (None for a flat control, which reads this run's own rows)
    control: ClaimRun | None = None

    @property
    def stale_records(self) -> list[Record]:
        """Records reused from other code (another code fingerprint; only under reuse_stale)."""
        return [r for r in self.records if r.fingerprint != code_fingerprint()]


def _owned_counts(
    cp: ClaimPlan, owner: dict[int, str], outcomes: dict[str, str], stale: set[str]
) -> dict[str, int]:
    """Outcomes of the planned units this claim is the first user of."""
    counts = {"done": 0, "measured": 0, "skipped": 0, "crashed": 0, "stale": 0}
    for p in {id(p): p for p in cp.planned}.values():
        if owner[id(p)] == cp.claim.id:
            counts[outcomes.get(p.key, "crashed")] += 1
            counts["stale"] += p.key in stale
    return counts


def judge_claim(
    cp: ClaimPlan, records: dict[int, Record | None], counts: dict[str, int]
) -> ClaimRun:
    """Judge one claim from the records of its planned units, seen as its own units."""
    t0 = time.perf_counter()
    recs = [
        claim_record(records[id(p)], u)
        for u, p in zip(cp.units, cp.planned)
        if records[id(p)] is not None
    ]
    verdict = judge(cp.claim, recs, expected_units=len(cp.units))
    stale = [r for r in recs if r.fingerprint != code_fingerprint()]
    if stale:
        prints = ", ".join(sorted({r.fingerprint for r in stale}))
        verdict = dataclasses.replace(
            verdict,
            notes=[
                *verdict.notes,
                f"{len(stale)} of {len(recs)} records reused from other code (--reuse-stale; "
                f"code fingerprint {prints}, this code {code_fingerprint()})",
            ],
        )
    return ClaimRun(cp.claim, verdict, recs, time.perf_counter() - t0, counts)


def run_plan(
    plan: RunPlan,
    store: Store,
    executor: Executor,
    max_ensemble: int = 64,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    reuse_stale: bool = False,
) -> list[ClaimRun]:
    """Train what is missing of the whole plan (ensembles packed across claims), then judge every
    claim."""
    outcomes: dict[str, str] = {}
    execute(
        plan.units,
        store,
        executor,
        max_ensemble=max_ensemble,
        progress=progress,
        log=log,
        reuse_stale=reuse_stale,
        outcomes=outcomes,
    )
    records = {id(p): find_record(store, p, reuse_stale) for p in plan.units}
    stale = {
        p.key
        for p in plan.units
        if records[id(p)] is not None and records[id(p)].fingerprint != p.fingerprint
    }
    owner = {i: users[0] for i, users in plan.users().items()}
    sharing = plan.sharing()
    planned = {"units_requested": plan.requested, "models_planned": len(plan.units)}
    runs = []
    for cp in plan.claims:
        run = judge_claim(cp, records, _owned_counts(cp, owner, outcomes, stale))
        share = sharing[cp.claim.id]
        verdict = dataclasses.replace(
            run.verdict, details={**run.verdict.details, "shared_models": share.to_json()}
        )
        runs.append(dataclasses.replace(run, verdict=verdict, sharing=share, planned=planned))
    return runs


def plan_with_controls(claims: list[Claim], device: str = "cpu") -> RunPlan:
    """The claims and their derived controls (ids suffixed CONTROL_SUFFIX) planned together."""
    derived = [derive_control(c, control_of(c)) for c in claims]
    todo = [dataclasses.replace(d, id=d.id + CONTROL_SUFFIX) for d in derived if d is not None]
    return plan_run(claims + todo, device)


def run_claims(
    claims: list[Claim],
    results_dir: str | Path,
    executor: Executor,
    max_ensemble: int = 64,
    progress: bool = True,
    family: str = "holm",
    log: Callable[[str], None] | None = None,
    reuse_stale: bool = False,
) -> list[ClaimRun]:
    """All claims and their controls planned together, so a control shares every model it can
    with its claim (the pruning rules
    and the initialisation are measured on the same units); each claim judged beside its control,
    then family-wise control of refutations across the claims."""
    store = Store(store_root(Path(results_dir)), log)
    specs = [control_of(c) for c in claims]
    derived = [derive_control(c, s) for c, s in zip(claims, specs)]
    runs = run_plan(
        plan_with_controls(claims, executor.device),
        store,
        executor,
        max_ensemble,
        progress,
        log,
        reuse_stale,
    )
    runs, ctl_runs = runs[: len(claims)], iter(runs[len(claims) :])
    runs = [
        _beside_control(r, s, next(ctl_runs) if d is not None else None)
        for r, s, d in zip(runs, specs, derived)
    ]
    adjusted = family_control([r.verdict for r in runs], family)
    return [dataclasses.replace(r, verdict=v) for r, v in zip(runs, adjusted)]


def _beside_control(run: ClaimRun, spec: ControlSpec, ctl: ClaimRun | None) -> ClaimRun:
    """The claim's run with its control judged beside it (a CONFIRMED whose control met the
    prediction too is vacuous)."""
    result = (
        derived_result(spec, ctl.verdict)
        if ctl is not None
        else flat_result(spec, collect_rows(run.claim, run.records))
    )
    return dataclasses.replace(run, verdict=with_control(run.verdict, result), control=ctl)
