"""Which assumption matters first: the axes of one claim ordered by the bound verdicts of
docs/verdicts.md pooled over replicates."""

from __future__ import annotations

from dataclasses import dataclass

from harness.fuzz.assumptions import TOL
from harness.fuzz.axis_summary import AxisSummary
from harness.fuzz.crossings import fmt
from harness.fuzz.profiles import BUDGET_FACTOR


@dataclass
class Ranked:
    """One axis of one claim: its status text and the sort key that places it in the ranking."""

    summary: AxisSummary
    status: str
    key: tuple
    at: float | None  # the grid value the status rests on (first pooled REFUTED), None without one

    @property
    def breaks(self) -> bool:
        """REFUTED somewhere on the grid, and (where probed) still REFUTED with more steps."""
        return self.key[0] < 1.5


def rank_axes(summaries: list[AxisSummary], dom: str, role: str = "assumption") -> list[Ranked]:
    """Axes of one claim, in the order their assumptions matter.

    The status rests on the bound verdicts of docs/verdicts.md (pooled over replicates): an axis
    *breaks* the claim where a grid point is REFUTED. It breaks "while the assumption still holds"
    when that point's margin is <= 0 (the assumption is not sufficient), else "once violated"; those
    are ordered by the severity at the crossing (mean over replicates) or, if some replicates never
    cross, at the first REFUTED point. Without a REFUTED point: "no clear break" (some replicates
    may still cross eps) or "no break on the grid"."""
    out = []
    for s in summaries:
        if dom not in s.domains or s.axis.role != role:
            continue
        c, cs = s.crossing[dom], s.crossing_severity[dom]
        R = len(c.values)
        bf = s.breaks_from[dom]
        limited = s.budget_limited(dom)
        if bf is not None and limited:
            i = s.values.index(bf)
            out.append(
                Ranked(
                    s,
                    f"REFUTED from {fmt(bf)} at this budget only: nothing REFUTED up to "
                    f"{fmt(s.budget.values[-1])} "
                    f"with {BUDGET_FACTOR}x steps",
                    (1.5, s.severities[i]),
                    bf,
                )
            )
        elif bf is not None:
            i = s.values.index(bf)
            sev = cs.mean if not (c.n_left or c.n_right) else s.severities[i]
            robust = (
                ""
                if limited is None
                else (
                    f"; with {BUDGET_FACTOR}x steps REFUTED from {fmt(s.budget.breaks_from[dom])}"
                )
            )
            if s.margins[i] <= TOL:
                out.append(
                    Ranked(
                        s,
                        f"REFUTED at {fmt(bf)} while the assumption still holds (margin "
                        f"{fmt(s.margins[i])}){robust}",
                        (0, sev),
                        bf,
                    )
                )
            else:
                out.append(
                    Ranked(
                        s, f"breaks once violated (REFUTED from {fmt(bf)}){robust}", (1, sev), bf
                    )
                )
        elif c.n_right < R:
            out.append(
                Ranked(
                    s,
                    f"no clear break (crosses eps in {R - c.n_right}/{R} replicates)",
                    (2, cs.mean),
                    None,
                )
            )
        else:
            out.append(Ranked(s, "no break on the grid", (3, -max(s.severities)), None))
    out.sort(key=lambda r: r.key)
    return out
