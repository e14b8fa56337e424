"""Per-axis statistics of a sweep: error curves, pooled bound verdicts, eps crossings, holds-up-to
and breaks-from.

"Holds up to" is the last grid value up to which every point is CONFIRMED on the counts pooled over
replicates; "breaks from" is the first REFUTED (or ERROR) one. The budget probe's points, when
given, get the same statistics (AxisSummary.budget)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from harness.fuzz.assumptions import ID, OOD
from harness.fuzz.crossings import (
    Crossing,
    PooledCount,
    crossing_point,
    crossing_summary,
    pooled_verdict,
)
from harness.fuzz.profiles import EPS, Axis
from harness.fuzz.sweep import SweepPoint


@dataclass
class AxisSummary:
    """One swept axis: its grid, the error per value and replicate, pooled verdicts and eps
    crossings per claim."""

    axis: Axis
    values: list[float]
    x: list[float]  # plotting coordinate: measured max coherence for coherence axes, else the value
    margins: list[float]  # the bent assumption's margin at each value (replicate 0's world)
    severities: list[float]
    err: dict[str, np.ndarray]  # domain -> (n_values, replicates) error rates
    pooled: dict[str, list[PooledCount]]  # domain -> per value, counts pooled over replicates
    crossing: dict[str, Crossing]  # in axis-value units
    # in severity units (margin / scale) of the bent assumption
    crossing_severity: dict[str, Crossing]
    # last value up to which every point is CONFIRMED (None: not even the first)
    holds_up_to: dict[str, float | None]
    # first value whose pooled count is REFUTED (None: none on the grid)
    breaks_from: dict[str, float | None]
    domains: frozenset = frozenset({ID, OOD})  # claims the bent assumption belongs to
    # the breaking part of the axis retrained with BUDGET_FACTOR x steps
    budget: AxisSummary | None = None

    def budget_limited(self, dom: str) -> bool | None:
        """True if no probed point is REFUTED with more steps; None when not probed."""
        if self.budget is None or self.breaks_from[dom] is None:
            return None
        return self.budget.breaks_from[dom] is None


def _crossings(
    values: list[float], severities: list[float], E: np.ndarray, eps: float
) -> tuple[Crossing, Crossing]:
    """The eps crossing per replicate (columns of E), in axis-value and in severity units."""
    cv, cc, mv, br = [], [], [], []
    for j in range(E.shape[1]):
        c, cens = crossing_point(values, E[:, j], eps)
        cv.append(c)
        cc.append(cens)
        i = next((i for i, e in enumerate(E[:, j]) if e > eps), None)
        br.append((values[i - 1], values[i]) if not cens and i is not None else None)
        xs, ys = (
            (values, severities) if values[0] <= values[-1] else (values[::-1], severities[::-1])
        )
        mv.append(float(np.interp(c, xs, ys)))
    return crossing_summary(cv, cc, brackets=br), crossing_summary(mv, cc)


def summarise_axis(
    ax: Axis, points: list[SweepPoint], eps: float = EPS, budget: list[SweepPoint] | None = None
) -> AxisSummary:
    """Per-axis statistics; `budget` (run_budget_probe's points) adds the same statistics at more
    steps."""
    pts = [p for p in points if p.axis == ax.name]
    values = [v for v in ax.values if any(p.value == v for p in pts)]
    reps = sorted({p.replicate for p in pts})
    at = {(p.value, p.replicate): p.outcome for p in pts}
    first = [at[(v, reps[0])] for v in values]
    x = [
        o.report.max_coherence if ax.group == "coherence" else float(v)
        for v, o in zip(values, first)
    ]
    margins = [o.report[ax.assumption].margin for o in first]
    severities = [o.report[ax.assumption].severity for o in first]
    err, pooled, crossing, crossing_s, holds, breaks = {}, {}, {}, {}, {}, {}
    for dom in (ID, OOD):
        E = np.array(
            [
                [at[(v, r)].result(dom).rate if not at[(v, r)].failed else 1.0 for r in reps]
                for v in values
            ]
        )
        err[dom] = E
        rows = [pooled_verdict([at[(v, r)] for r in reps], dom, eps) for v in values]
        pooled[dom] = rows
        crossing[dom], crossing_s[dom] = _crossings(values, severities, E, eps)
        h = None
        for v, row in zip(values, rows):
            if row.verdict != "CONFIRMED":
                break
            h = v
        holds[dom] = h
        breaks[dom] = next(
            (v for v, row in zip(values, rows) if row.verdict in ("REFUTED", "ERROR")), None
        )
    probe = None
    bvals = tuple(
        v for v in ax.values if any(p.axis == ax.name and p.value == v for p in (budget or []))
    )
    if bvals:
        probe = summarise_axis(
            dataclasses.replace(ax, values=bvals), [p for p in budget if p.axis == ax.name], eps
        )
    return AxisSummary(
        ax,
        values,
        x,
        margins,
        severities,
        err,
        pooled,
        crossing,
        crossing_s,
        holds,
        breaks,
        first[0].report[ax.assumption].domains,
        probe,
    )
