"""From stored records to one verdict per claim: CONFIRMED, REFUTED, INCONCLUSIVE or ERROR.

The rules are docs/verdicts.md. ERROR (crashed or diverged runs, the cap hit too
often, too few valid grid points) is never reported as REFUTED or CONFIRMED.
A REFUTED verdict carries a p-value; across a run, `family_control` adjusts
those (Holm by default) and a refutation that does not survive turns
INCONCLUSIVE with the reason stated.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict

from harness.claims import stats
from harness.claims.analysis_plan import plan_digest
from harness.claims.claim import Claim
from harness.claims.control_verdict import with_design
from harness.claims.kinds import KINDS
from harness.claims.kinds.base import error_verdict
from harness.claims.metrics import Row, metric_label, metric_rows
from harness.claims.record import Record
from harness.claims.verdict import Estimate, FamilyResult, Verdict
from harness.claims.world_split import judge_worlds
from harness.core.jsonio import canonical

__all__ = [
    "Verdict",
    "Estimate",
    "FamilyResult",
    "judge",
    "collect_rows",
    "family_control",
    "metric_label",
]

MAX_FAILED_FRACTION = 0.2  # more diverged/crashed units than this: ERROR
# more runs at the iteration cap than this: ERROR (the rate kind allows censored points)
MAX_CENSORED_FRACTION = 0.5
ALPHA = stats.SIGNIFICANCE  # significance for refutations and trend tests


def collect_rows(claim: Claim, records: list[Record]) -> list[Row]:
    """The claim's metric rows for all non-failed records, reduced over the search axis when the
    metric searches one (a row per remaining point and replicate: the smallest passing value,
    censored at the largest when none passes)."""
    rows = [r for rec in records if not rec.failed for r in metric_rows(claim, rec)]
    axis = claim.metric.get("search")
    if not axis:
        return rows
    eps = claim.metric["eps"]
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        rest = {k: v for k, v in r.point.items() if k != axis}
        groups[canonical([rest, r.replicate])].append(r)
    out = []
    for key, g in groups.items():
        rest, rep = json.loads(key)
        passing = sorted(r.point[axis] for r in g if r.value <= eps)
        cap = max(r.point[axis] for r in g)
        out.append(Row(rest, float(passing[0] if passing else cap), not passing, rep))
    return out


def judge(claim: Claim, records: list[Record], expected_units: int | None = None) -> Verdict:
    """Apply the claim's analysis to its stored records; the verdict records the plan it was judged
    under."""
    return dataclasses.replace(
        _judge(claim, records, expected_units),
        plan_digest=plan_digest(claim.plan),
        plan=dict(claim.plan),
        plan_changes=list(claim.changes),
    )


def _judge(claim: Claim, records: list[Record], expected_units: int | None) -> Verdict:
    if expected_units is not None and len(records) < expected_units:
        return error_verdict(
            claim,
            f"{expected_units - len(records)} of {expected_units} units have no record (crashed or "
            "not run)",
        )
    if not records:
        return error_verdict(claim, "no records")
    n_failed = sum(r.failed for r in records)
    if n_failed / len(records) > MAX_FAILED_FRACTION:
        return error_verdict(
            claim, f"{n_failed} of {len(records)} runs diverged (non-finite or exploding loss)"
        )
    rows = collect_rows(claim, records)
    if not rows:
        return error_verdict(claim, "no measurements match the claim's metric and selection")
    n_cens = sum(r.censored for r in rows)
    if not KINDS.get(claim.kind).fitted and n_cens / len(rows) > MAX_CENSORED_FRACTION:
        return error_verdict(claim, f"{n_cens} of {len(rows)} measurements hit the cap")
    kind = KINDS.get(claim.kind)
    v = judge_worlds(claim, rows, lambda rs: with_design(kind.judge(claim, rs), rs))
    failed = [f"{n_failed} of {len(records)} runs diverged and were left out"] if n_failed else []
    return dataclasses.replace(
        v,
        notes=[*v.notes, *failed],
        expected=claim.expected_verdict(),
        paper_trend=claim.paper_trend,
    )


def family_control(verdicts: list[Verdict], method: str = "holm") -> list[Verdict]:
    """The verdicts with refutation p-values adjusted across the run (Holm or BH; the CLI and the
    pytest plugin both judge all their claims first): new verdicts carrying a `FamilyResult`, and a
    REFUTED whose adjusted p is not below ALPHA is INCONCLUSIVE (the reason in its notes)."""
    # "none": the caller controls the family itself (the multiverse does)
    if not verdicts or method == "none":
        return list(verdicts)
    ps = [v.p_refute for v in verdicts]
    if method == "holm":
        adj = stats.holm(ps)
    elif method == "bh":
        adj = stats.benjamini_hochberg(ps)
    else:
        raise ValueError(f"family control must be 'holm' or 'bh', got {method!r}")
    out = []
    for v, a in zip(verdicts, adj):
        fam = FamilyResult(method, a, ALPHA, v.verdict == "REFUTED" and a >= ALPHA)
        out.append(
            dataclasses.replace(
                v,
                verdict="INCONCLUSIVE" if fam.overturned else v.verdict,
                notes=[*v.notes, fam.note(v.p_refute)] if fam.overturned else list(v.notes),
                details={**v.details, "p_refute_adjusted": a},
                family=fam,
            )
        )
    return out
