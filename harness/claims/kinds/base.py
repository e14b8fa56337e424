"""What a claim kind is, the registry of kinds, and the helpers every kind's judge shares.

A kind owns its part of the claim file (the [prediction] fields it reads, the
[metric] keys only it reads, its range checks), its prediction text and its
judge (metric rows -> Verdict with an Estimate). Registering a new kind is one
`KINDS.add(ClaimKind(name, ...))`, from the package or from outside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.claims.claim import Claim
from harness.claims.metrics import Row, metric_label
from harness.claims.verdict import Estimate, Verdict
from harness.core.jsonio import canonical
from harness.core.registry import Registry

Problem = tuple[str, str] | None  # (key, what is wrong) or None


def _no_check(metric: dict[str, Any], prediction: dict[str, Any]) -> Problem:
    return None


def _no_claim_check(claim: Claim) -> Problem:
    return None


def _no_selections(claim: Claim) -> dict[str, dict[str, Any]]:
    return {}


@dataclass(frozen=True)
class ClaimKind:
    name: str
    text: str  # one line: what the kind tests and how
    prediction_fields: dict[str, type]  # every [prediction] field it reads, with its type
    required: tuple[str, ...]  # those a claim file must give
    describe: Callable[[Claim], str]  # the prediction in words
    judge: Callable[[Claim, list[Row]], Verdict]
    # [metric] keys only this kind reads (each then required)
    metric_fields: dict[str, type] = field(default_factory=dict)
    # [metric] keys only this kind reads that a claim file may leave out
    metric_optional: dict[str, type] = field(default_factory=dict)
    # ranges of the prediction values
    check: Callable[[dict[str, Any], dict[str, Any]], Problem] = _no_check
    # the claim against its own grid (a comparison's a and b name grid axes)
    check_claim: Callable[[Claim], Problem] = _no_claim_check
    # a fit of a rate along a grid axis: its points may be censored at the cap (a search that
    # never passed), and a multiverse fit_range can narrow the fitted range
    fitted: bool = False
    # eval-point selections the kind reads besides [select]: metric key -> selection
    selections: Callable[[Claim], dict[str, dict[str, Any]]] = _no_selections
    # a claim file's [grid], [metric] and [prediction] for this kind (docs/claim-files.md shows
    # it; a test loads it as a claim, so it cannot go stale)
    example: str = ""


KINDS: Registry[ClaimKind] = Registry("claim kind")


def make_verdict(
    claim: Claim,
    verdict: str,
    measurement: str,
    over: str,
    n_points: int,
    n_rep: int,
    estimate: Estimate | None,
    **kw: Any,
) -> Verdict:
    """A verdict of `claim` with its prediction text and the claim file's prediction numbers; a
    sufficient-form claim and the claim's readings of unrecovered details are named in the notes."""
    extra = (
        ["form sufficient: tested one-sided (doing as well with less does not contradict it)"]
        if claim.form == "sufficient"
        else []
    )
    extra += [f"reading {k}: {v}" for k, v in claim.readings.items()]
    if extra:
        kw["notes"] = list(kw.get("notes", [])) + extra
    return Verdict(
        claim.id,
        claim.source,
        claim.statement,
        claim.kind,
        claim.profile,
        verdict,
        describe(claim),
        measurement,
        over,
        n_points,
        n_rep,
        estimate=estimate,
        predicted=dict(claim.prediction),
        metric=str(claim.metric.get("name", "")),
        regime=claim.regime,
        **kw,
    )


def error_verdict(claim: Claim, why: str, n_points: int = 0) -> Verdict:
    """ERROR: never REFUTED, never CONFIRMED; `why` is the reason."""
    return make_verdict(
        claim,
        "ERROR",
        "n/a",
        why,
        n_points,
        claim.replicates,
        None,
        notes=[why],
        expected=claim.expected_verdict(),
        paper_trend=claim.paper_trend,
    )


def describe(claim: Claim) -> str:
    return KINDS.get(claim.kind).describe(claim)


def by_point(rows: list[Row]) -> dict[str, list[Row]]:
    """Rows grouped by their grid point (canonical JSON of the point), in first-seen order."""
    out: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        out[canonical(r.point)].append(r)
    return out


def fmt_point(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "(base)"


__all__ = [
    "ClaimKind",
    "KINDS",
    "Problem",
    "make_verdict",
    "error_verdict",
    "describe",
    "by_point",
    "fmt_point",
    "metric_label",
]
