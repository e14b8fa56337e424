"""Plan a whole run at once: every selected claim's units, deduplicated across claims.

A unit's seed and key come from what it trains (harness.claims.grid), not from
the claim, so claims that train the same config and replicate ask for the same
model. `plan_run` expands every claim first and keeps one planned unit per
model: units with equal `model_key` (run config and seed, eval settings such as
n_test, device kind, code) merge into one unit measured at the union of their
eval points. Measurements at a point do not depend on the other points measured
(each point's prompts derive from the member's seed and the point itself), so a
claim reads exactly what its own unit would have measured. Units that train the
same model but measure with other eval settings (another n_test) stay separate
units: their measurements differ, so they cannot share one record.

`claim_record` turns a planned unit's record into the record of one claim's
unit (its train point, replicate, eval points and their measurements), so the
claims' metrics and verdicts read records exactly as before.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from harness.claims.claim import Claim
from harness.claims.grid import Unit, expand
from harness.claims.record import Record
from harness.core.jsonio import canonical
from harness.world.config import split_name


def _point_order(point: dict) -> tuple[str, str]:
    """Eval points sorted so that points with the same test prompts (same data overrides) sit
    together."""
    return canonical({k: v for k, v in point.items() if split_name(k)[0] == "data"}), canonical(
        point
    )


@dataclass
class ClaimPlan:
    """One claim's units and, for each, the planned unit that trains its model."""

    claim: Claim
    units: list[Unit]
    planned: list[Unit]


@dataclass(frozen=True)
class Sharing:
    """How many of a claim's models other claims of the run also use, and which claims."""

    models: int
    shared: int
    with_claims: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """As stored in the claim's verdict details (verdicts.json)."""
        return {"models": self.models, "shared": self.shared, "with": list(self.with_claims)}

    def text(self) -> str:
        if not self.shared:
            return f"shares none of its {self.models} models"
        return (
            f"shares {self.shared} of its {self.models} models with: {', '.join(self.with_claims)}"
        )


@dataclass
class RunPlan:
    """The run's planned units (each trains one model) and every claim's view of them."""

    claims: list[ClaimPlan]
    units: list[Unit]

    @property
    def requested(self) -> int:
        """Units the claims ask for, before deduplication."""
        return sum(len(cp.units) for cp in self.claims)

    def users(self) -> dict[int, list[str]]:
        """id(planned unit) -> the claims that use it, in run order."""
        out: dict[int, list[str]] = {}
        for cp in self.claims:
            for p in cp.planned:
                ids = out.setdefault(id(p), [])
                if cp.claim.id not in ids:
                    ids.append(cp.claim.id)
        return out

    def sharing(self) -> dict[str, Sharing]:
        """Per claim: how many of its models (distinct planned units) other claims use, and which
        claims."""
        users = self.users()
        out = {}
        for cp in self.claims:
            mine = {id(p): p for p in cp.planned}
            shared = [i for i in mine if len(users[i]) > 1]
            others = sorted({c for i in shared for c in users[i]} - {cp.claim.id})
            out[cp.claim.id] = Sharing(len(mine), len(shared), others)
        return out


def plan_run(claims: list[Claim], device: str = "cpu") -> RunPlan:
    """Expand every claim, then keep one planned unit per model (equal `model_key`), measured at the
    union of the eval points its claims ask for (sorted, so the plan does not depend on the claims'
    order)."""
    by_model: dict[str, Unit] = {}
    points: dict[str, dict[str, dict]] = {}
    claim_plans = []
    for c in claims:
        units = expand(c, device)
        planned = []
        for u in units:
            k = u.model_key()
            if k not in by_model:
                by_model[k] = dataclasses.replace(u, eval_points=[])
                points[k] = {}
            elif u.reads_curve:
                by_model[k].reads_curve = True
            for pt in u.eval_points:
                points[k].setdefault(canonical(pt), pt)
            planned.append(by_model[k])
        claim_plans.append(ClaimPlan(c, units, planned))
    for k, p in by_model.items():
        p.eval_points = sorted(points[k].values(), key=_point_order)
    return RunPlan(claim_plans, list(by_model.values()))


def claim_record(rec: Record, unit: Unit) -> Record:
    """A planned unit's record as one claim's unit sees it: that unit's train point, replicate and
    eval points, and the measurements at those points only."""
    wanted = {canonical(p) for p in unit.eval_points}
    return dataclasses.replace(
        rec,
        claim=unit.claim_id,
        train_point=dict(unit.train_point),
        replicate=unit.replicate,
        eval_points=unit.eval_points,
        measurements=[m for m in rec.measurements if canonical(m.point) in wanted],
    )
