"""A claim's control judged, and the claim's verdict with it beside: a CONFIRMED whose control met
the prediction too is vacuous (INCONCLUSIVE, `Verdict.vacuous`), since no outcome of its experiment
could have contradicted it; and what the design could detect, with a note when the metric sits at
its floor or does not move.

A derived control (init, random-rows, a claim file's own) is judged by the claim's kind under the
claim's prediction: it meets the prediction when that verdict is CONFIRMED. The flat control reads
the claim's own rows: the metric moves when its grid-point means span more than the resolution of
the prompts behind one point (constant, or at its floor everywhere, it does not)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from harness.claims.control import ControlSpec
from harness.claims.kinds.base import by_point, fmt_point
from harness.claims.metrics import Row
from harness.claims.prompt_noise import noisy_mean
from harness.claims.verdict import ControlResult, Verdict

MOVES, FLAT = "MOVES", "FLAT"
FLOOR_REMEDY = (
    "harder test prompts (test_sampling = 'iid'), shorter contexts, a smaller alpha', or the "
    "paper's regime would lift it off"
)


def derived_result(spec: ControlSpec, control: Verdict) -> ControlResult:
    """The control's verdict under the claim's prediction."""
    return ControlResult(
        spec.name,
        spec.change(),
        spec.why,
        control.verdict,
        control.verdict == "CONFIRMED",
        control.measurement,
        spec.remedy,
        control.estimate,
        spec.declared,
    )


def flat_result(spec: ControlSpec, rows: list[Row]) -> ControlResult:
    """Whether the metric moves across the claim's grid: the range of its grid-point means against
    the resolution of one point's prompts (about 3 / N; 0 for a metric not measured on prompts,
    which must then differ at all)."""
    groups = list(by_point(rows).values())
    means = [float(np.mean([r.value for r in g])) for g in groups]
    resolution = max((noisy_mean(g).resolution for g in groups), default=0.0)
    spread = max(means) - min(means) if means else 0.0
    moves = len(groups) > 1 and spread > resolution
    if len(groups) < 2:
        measurement = "one grid point: nothing can move"
    else:
        hi, lo = int(np.argmax(means)), int(np.argmin(means))
        measurement = (
            f"grid means {means[lo]:.3g} ({fmt_point(groups[lo][0].point)}) to {means[hi]:.3g} "
            f"({fmt_point(groups[hi][0].point)}) over {len(groups)} points, against a "
            f"resolution of {resolution:.2g}"
        )
    verdict = MOVES if moves else FLAT
    return ControlResult(
        spec.name,
        spec.change(),
        spec.why,
        verdict,
        not moves,
        measurement,
        spec.remedy,
        None,
        spec.declared,
    )


def floor_note(rows: list[Row]) -> str:
    """A note when the metric is at its floor (0) or constant at every grid point, else ''."""
    values = [r.value for r in rows if math.isfinite(r.value)]
    if len(values) < 2:
        return ""
    if all(v == 0 for v in values):
        return f"the metric is 0 at every grid point and seed (at its floor): {FLOOR_REMEDY}"
    if len(set(values)) == 1:
        return f"the metric is {values[0]:.4g} at every grid point and seed (constant)"
    return ""


def detectable(v: Verdict) -> float:
    """The smallest effect the design could show: the half-width of the verdict's interval (the
    distance from the estimate to its farther finite bound; inf when it has none)."""
    e = v.estimate
    if e is None:
        return math.nan
    sides = [abs(b - e.value) for b in (e.lower, e.upper) if math.isfinite(b)]
    return max(sides) if sides else math.inf


def with_design(v: Verdict, rows: list[Row]) -> Verdict:
    """The verdict with what its design could detect, and the floor note."""
    note = floor_note(rows)
    return dataclasses.replace(
        v, detectable=detectable(v), notes=[*v.notes, note] if note else list(v.notes)
    )


def with_control(v: Verdict, result: ControlResult) -> Verdict:
    """The verdict with its control beside it; a CONFIRMED whose control met the prediction too is
    INCONCLUSIVE, marked vacuous, with the control's numbers and the remedy in its notes."""
    if not (v.verdict == "CONFIRMED" and result.met):
        return dataclasses.replace(v, control=result)
    why = (
        f"vacuous: the control {result.name} ({result.change}) meets the prediction too "
        f"({result.measurement}), so the experiment could not have failed; {result.remedy}"
    )
    return dataclasses.replace(
        v, verdict="INCONCLUSIVE", vacuous=True, control=result, notes=[*v.notes, why]
    )


__all__ = ["derived_result", "flat_result", "floor_note", "with_control", "with_design"]
