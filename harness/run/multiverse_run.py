"""Run the multiverse: every claim judged again under each applicable alternative, one alternative
at a time.

The main verdicts come from the ordinary run (Holm across claims, as always). The derived claims
(ordinary `Claim` objects, harness.claims.multiverse_derive) go through the same runner in one call,
so their units are planned together and a unit already in the store (an analysis-only alternative
reuses the main setting's models) is never retrained. Each alternative is judged beside its own
control, as the main setting is: a CONFIRMED under an alternative whose control meets the
prediction too is vacuous there as well, so it never counts as deciding the claim. Family-wise
control of the alternatives: Holm within each claim's multiverse (the claim's alternatives are one
family; the main verdict is not in it): an alternative's refutation that does not survive becomes
INCONCLUSIVE, as a main refutation does across claims. The result per claim is a JSON-ready block
for verdicts.json and the report (`multiverse`), with its label ROBUST / FRAGILE / CONTINGENT /
PARTIAL."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.claims.claim import Claim
from harness.claims.multiverse import Alternative, load_narrowing
from harness.claims.multiverse_derive import Variant, derive_all, robustness
from harness.claims.verdicts import Verdict, family_control
from harness.run import runner
from harness.run.execution import Executor
from harness.run.runner import ClaimRun

CORRECTION = (
    "Holm within each claim's multiverse: the claim's alternatives are one family (the main "
    "verdict keeps "
    "the run's correction across claims); a refutation under an alternative whose Holm-adjusted p "
    "is not "
    "below 0.05 is reported INCONCLUSIVE"
)


def plan_variants(claims: list[Claim], alternatives: list[Alternative]) -> dict[str, list[Variant]]:
    """Claim id -> its variants (derived or skipped with a reason); ClaimError for a bad
    `[multiverse]` table."""
    names = [a.name for a in alternatives]
    return {c.id: derive_all(c, alternatives, load_narrowing(c.path, names)) for c in claims}


def _num(x: Any) -> Any:
    return x if not isinstance(x, float) or math.isfinite(x) else None


def _verdict_row(v: Verdict) -> dict[str, Any]:
    return {
        "verdict": v.verdict,
        "measurement": v.measurement,
        "over": v.over,
        "p_refute": _num(v.p_refute),
        "p_refute_adjusted": _num(v.details.get("p_refute_adjusted")),
        "notes": list(v.notes),
        "estimate": dataclasses.asdict(v.estimate) if v.estimate else None,
    }


def multiverse_block(
    main: Verdict, variants: list[Variant], judged: dict[str, Verdict]
) -> dict[str, Any]:
    """The claim's `multiverse` block: the main verdict, every alternative (judged or skipped, with
    why), the label."""
    rows = []
    for var in variants:
        a = var.alternative
        row: dict[str, Any] = {"name": a.name, "change": a.change(), "why": a.why}
        if var.claim is None:
            row.update(
                status="skipped", skipped=var.skipped, verdict=None, measurement="", estimate=None
            )
        else:
            row.update(status="ran", skipped="", **_verdict_row(judged[a.name]))
        rows.append(row)
    lab = robustness(
        main.verdict, [(r["name"], r["verdict"]) for r in rows if r["status"] == "ran"]
    )
    return {
        "label": lab.label,
        "flips": lab.flips,
        "undecided": lab.undecided,
        "correction": CORRECTION,
        "main": {**_verdict_row(main), "predicted": dict(main.predicted)},
        "alternatives": rows,
    }


def run_multiverse(
    runs: list[ClaimRun],
    variants: dict[str, list[Variant]],
    results_dir: str | Path,
    executor: Executor,
    max_ensemble: int = 64,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    reuse_stale: bool = False,
) -> tuple[dict[str, dict[str, Any]], list[ClaimRun]]:
    """Judge every runnable variant (one runner call, no family control there), then Holm within
    each claim's multiverse; returns (claim id -> multiverse block, the variants' claim runs)."""
    todo = [(cid, v) for cid, vs in variants.items() for v in vs if v.claim is not None]
    alt_runs = (
        runner.run_claims(
            [v.claim for _, v in todo],
            results_dir,
            executor,
            max_ensemble=max_ensemble,
            progress=progress,
            family="none",
            log=log,
            reuse_stale=reuse_stale,
        )
        if todo
        else []
    )
    by_obj = {id(r.claim): r for r in alt_runs}
    judged: dict[str, dict[str, Verdict]] = {}
    for i, (cid, v) in enumerate(todo):
        r = by_obj.get(id(v.claim)) or alt_runs[i]
        judged.setdefault(cid, {})[v.alternative.name] = r.verdict
    for cid, per_claim in judged.items():  # Holm within each claim's multiverse
        judged[cid] = dict(zip(per_claim, family_control(list(per_claim.values()), "holm")))
    blocks = {
        r.claim.id: multiverse_block(
            r.verdict, variants.get(r.claim.id, []), judged.get(r.claim.id, {})
        )
        for r in runs
    }
    return blocks, alt_runs
