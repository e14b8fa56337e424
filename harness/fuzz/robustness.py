"""Where the assumptions break: the robustness sweep, its probes, and the statistics that read it.

- The sweep bends one assumption at a time from an anchor where both claims hold
  (the paper's orthogonal world at S1 = 2, see assumptions.S1_REGIME), over
  replicates that share seeds across grid points (paired), and finds per
  replicate where the error crosses eps by linear interpolation between
  neighbouring grid points; the crossing's interval is a t interval over
  replicates (the replicate is the unit, as in SPEC section 3; no bootstrap).
  Independently, each grid point gets the SPEC's bound verdict on the error
  counts pooled over replicates (one-sided Clopper-Pearson at 95%):
  "holds up to" is the last grid value up to which every point is CONFIRMED.
- The budget probe retrains the breaking part of each axis with more steps; the
  task-graph probe trains every shape of uniformly covering T_tr.
- `rank_axes` orders the assumptions by when they matter (harness.fuzz.report
  writes the report).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from scipy import stats as sps

from harness.fuzz.assumptions import ID, OOD, TOL
from harness.world.config import DataConfig, RunConfig
from harness.fuzz.outcomes import DomainResult, Outcome, measure
from harness.fuzz.records import write_record
from harness.fuzz.profiles import ANCHOR, DEFAULT_ROOT, EPS, LEVEL, Axis, FuzzProfile
from harness.world.seeding import derive_seed

# --------------------------------------------------------------------------------------------------------------
# the sweep


@dataclass
class SweepPoint:
    axis: str
    value: float
    replicate: int
    outcome: Outcome


def replicate_seed(r: int) -> int:
    return derive_seed("fuzz-sweep", r)


def sweep_runs(profile: FuzzProfile, anchor: DataConfig = ANCHOR) -> list[tuple[Axis, float, int, RunConfig]]:
    out = []
    for ax in profile.axes:
        for v in ax.values:
            data = ax.data(v, anchor)
            for r in range(profile.replicates):
                out.append((ax, v, r, profile.run(data, replicate_seed(r))))
    return out


def run_sweep(profile: FuzzProfile, root: Path | str | None = DEFAULT_ROOT, *, anchor: DataConfig = ANCHOR, device: str = "cpu",
              progress: Callable[[str], None] | None = None) -> list[SweepPoint]:
    plan = sweep_runs(profile, anchor)
    outs = measure([p[3] for p in plan], n_test=profile.n_test, eps=profile.eps, max_members=profile.max_members,
                   device=device, progress=progress)
    points = []
    for (ax, v, r, _), o in zip(plan, outs):
        o.meta = {"axis": ax.name, "value": v, "replicate": r}
        points.append(SweepPoint(ax.name, v, r, o))
        if root is not None:
            write_record(o.record("sweep", profile.name), root)
    return points


BUDGET_FACTOR = 3  # the budget probe retrains first REFUTED points with this many times the steps


def run_budget_probe(profile: FuzzProfile, points: list[SweepPoint], root: Path | str | None = DEFAULT_ROOT, *,
                     anchor: DataConfig = ANCHOR, device: str = "cpu", replicates: int | None = None,
                     progress: Callable[[str], None] | None = None) -> list[SweepPoint]:
    """Retrain the breaking part of every axis with BUDGET_FACTOR x the steps (same seeds, paired).

    For each axis with a pooled-REFUTED grid point (either claim): the grid from the point before the first
    REFUTED one to the end, for the first `replicates` replicates (default min(3, profile.replicates)). Tells a
    break that more iterations remove or move (the theorems promise their bounds after enough iterations) from
    one that stays. Returns sweep points whose outcomes carry the longer training.
    """
    long = dataclasses.replace(profile, steps=profile.steps * BUDGET_FACTOR)
    R = replicates or min(3, profile.replicates)
    plan = []
    for ax in profile.axes:
        if not any(p.axis == ax.name for p in points):
            continue
        s = summarise_axis(ax, points, profile.eps)
        first = [s.values.index(bf) for bf in s.breaks_from.values() if bf is not None]
        if not first:
            continue
        for v in s.values[max(0, min(first) - 1):]:
            for r in range(R):
                plan.append((ax, v, r, long.run(ax.data(v, anchor), replicate_seed(r))))
    if not plan:
        return []
    outs = measure([p[3] for p in plan], n_test=profile.n_test, eps=profile.eps, max_members=profile.max_members,
                   device=device, progress=progress)
    res = []
    for (ax, v, r, _), o in zip(plan, outs):
        o.meta = {"axis": ax.name, "value": v, "replicate": r, "budget_factor": BUDGET_FACTOR}
        res.append(SweepPoint(ax.name, v, r, o))
        if root is not None:
            write_record(o.record("sweep-budget", profile.name), root)
    return res


TASK_GRAPH_SETS = ((2,), (3,), (1,), (2, 4), (1, 5), (1, 2, 4), (1, 3), (1, 3, 5))  # cyclic shift sets of T_tr (M1 = 6)
TASK_GRAPH_ALPHAS = (0.8, 0.95)


def task_graph_seeds(shifts: tuple[int, ...], n: int, anchor: DataConfig = ANCHOR) -> list[int]:
    """The first n seeds derive_seed("fuzz-taskgraph", i) whose uniform T_tr is exactly these cyclic shifts."""
    from harness.world.tasks import training_tasks

    cfg = dataclasses.replace(anchor, n_train_tasks=anchor.M1 * len(shifts), coverage="uniform")
    out = []
    for i in range(100000):
        seed = derive_seed("fuzz-taskgraph", i)
        t = training_tasks(cfg, seed)
        if {int((b - a) % anchor.M1) for a, b in t.tolist()} == set(shifts):
            out.append(seed)
            if len(out) == n:
                return out
    raise ValueError(f"no seed gives the shift set {shifts}")


@dataclass
class TaskGraphRow:
    shifts: tuple[int, ...]
    n_train_tasks: int
    shortcut: float
    alpha: float
    outcomes: list[Outcome]


def run_task_graph_probe(profile: FuzzProfile, root: Path | str | None = DEFAULT_ROOT, *, anchor: DataConfig = ANCHOR,
                         device: str = "cpu", progress: Callable[[str], None] | None = None) -> list[TaskGraphRow]:
    """Uniformly covering T_tr of every shape (cyclic shift sets) at two alphas: is Condition 3.2 enough?"""
    if anchor.M1 != 6:
        return []
    plan = []
    for S in TASK_GRAPH_SETS:
        seeds = task_graph_seeds(S, profile.replicates, anchor)
        for a in TASK_GRAPH_ALPHAS:
            for seed in seeds:
                plan.append((S, a, profile.run(dataclasses.replace(anchor, n_train_tasks=anchor.M1 * len(S), alpha=a), seed)))
    outs = measure([p[2] for p in plan], n_test=profile.n_test, eps=profile.eps, max_members=profile.max_members,
                   device=device, progress=progress)
    rows: dict[tuple, TaskGraphRow] = {}
    for (S, a, run), o in zip(plan, outs):
        o.meta = {"shifts": list(S), "alpha": a}
        if root is not None:
            write_record(o.record("taskgraph", profile.name), root)
        key = (S, a)
        if key not in rows:
            rows[key] = TaskGraphRow(S, run.data.n_train_tasks, o.report["regime_task_shortcut"].value, a, [])
        rows[key].outcomes.append(o)
    return list(rows.values())


def pooled_verdict(outs: Sequence[Outcome], dom: str, eps: float) -> tuple[int, int, float, float, str]:
    """Errors, prompts, Clopper-Pearson bounds and the SPEC bound verdict of one domain, pooled over outcomes."""
    res = DomainResult(sum(o.result(dom).errors for o in outs), sum(o.result(dom).n for o in outs), eps)
    return (res.errors, res.n, *res.bounds, res.verdict(any(o.failed for o in outs)))


def crossing_point(x: Sequence[float], err: Sequence[float], eps: float = EPS) -> tuple[float, str]:
    """Where a replicate's error first rises above eps along x (in order of growing violation).

    Linear interpolation between the last point at or below eps and the first above it.
    Returns (value, censoring): "" observed; "left" already above eps at x[0] (value x[0]);
    "right" never above eps on the grid (value x[-1]).
    """
    if len(x) != len(err) or not len(x):
        raise ValueError("crossing_point needs equally long, non-empty x and err")
    for i, e in enumerate(err):
        if e > eps:
            if i == 0:
                return float(x[0]), "left"
            x0, x1, e0, e1 = x[i - 1], x[i], err[i - 1], err[i]
            return float(x0 + (eps - e0) * (x1 - x0) / (e1 - e0)), ""
    return float(x[-1]), "right"


@dataclass
class Crossing:
    values: list[float]  # per replicate
    censoring: list[str]
    mean: float
    lower: float  # two-sided `level` t interval over replicates (nan when not defined)
    upper: float
    level: float
    brackets: list = field(default_factory=list)  # per replicate: the grid cell (x_before, x_after) of an observed crossing

    @property
    def n_right(self) -> int:
        return self.censoring.count("right")

    @property
    def n_left(self) -> int:
        return self.censoring.count("left")

    def text(self, fmt: str = ".3g") -> str:
        R = len(self.values)
        if self.n_right == R:
            return f"none (error <= eps up to the grid's end, {R}/{R} replicates)"
        if self.n_left == R:
            return f"at or before the grid's start ({R}/{R} replicates)"
        if self.n_left or self.n_right:
            obs = [v for v, c in zip(self.values, self.censoring) if not c]
            parts = [f"observed {', '.join(format(v, fmt) for v in obs)}" if obs else ""]
            if self.n_right:
                parts.append(f"{self.n_right}/{R} beyond the grid")
            if self.n_left:
                parts.append(f"{self.n_left}/{R} before the grid's start")
            return "; ".join(p for p in parts if p) + " (censored: no interval)"
        if not math.isfinite(self.lower):
            return f"{self.mean:{fmt}} (one replicate, no interval)"
        cells = {tuple(b) for b in self.brackets if b}
        note = ""
        if len(cells) == 1 and len(self.brackets) == R and all(self.brackets):
            (a, b), = cells
            note = f" (all {R} in the grid cell {a:{fmt}}..{b:{fmt}}: the interval reflects interpolation, the grid limits resolution)"
        return f"{self.mean:{fmt}} [{self.lower:{fmt}}, {self.upper:{fmt}}]{note}"


def crossing_summary(values: Sequence[float], censoring: Sequence[str], level: float = LEVEL,
                     brackets: Sequence[tuple[float, float] | None] | None = None) -> Crossing:
    """Mean crossing over replicates with a two-sided t interval (n - 1 dof); none if any replicate is censored."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    mean = float(v.mean()) if n else math.nan
    lo = hi = math.nan
    if n >= 2 and not any(censoring):
        sd = float(v.std(ddof=1))
        half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
        lo, hi = mean - half, mean + half
    return Crossing(list(map(float, v)), list(censoring), mean, lo, hi, level, list(brackets or []))


@dataclass
class AxisSummary:
    axis: Axis
    values: list[float]
    x: list[float]  # plotting coordinate: measured max coherence for coherence axes, else the value
    margins: list[float]  # the bent assumption's margin at each value (replicate 0's world)
    severities: list[float]
    err: dict[str, np.ndarray]  # domain -> (n_values, replicates) error rates
    pooled: dict[str, list[tuple[int, int, float, float, str]]]  # domain -> per value (errors, n, cp_lo, cp_hi, verdict)
    crossing: dict[str, Crossing]  # in axis-value units
    crossing_severity: dict[str, Crossing]  # in severity units (margin / scale) of the bent assumption
    holds_up_to: dict[str, float | None]  # last value up to which every point is CONFIRMED (None: not even the first)
    breaks_from: dict[str, float | None]  # first value whose pooled count is REFUTED (None: none on the grid)
    domains: frozenset = frozenset({ID, OOD})  # claims the bent assumption belongs to
    budget: "AxisSummary | None" = None  # the breaking part of the axis retrained with BUDGET_FACTOR x steps

    def budget_limited(self, dom: str) -> bool | None:
        """True if no probed point is REFUTED with more steps; None when not probed."""
        if self.budget is None or self.breaks_from[dom] is None:
            return None
        return self.budget.breaks_from[dom] is None


def summarise_axis(ax: Axis, points: list[SweepPoint], eps: float = EPS, budget: list[SweepPoint] | None = None) -> AxisSummary:
    """Per-axis statistics; `budget` (run_budget_probe's points) adds the same statistics at more steps."""
    pts = [p for p in points if p.axis == ax.name]
    values = [v for v in ax.values if any(p.value == v for p in pts)]
    reps = sorted({p.replicate for p in pts})
    at = {(p.value, p.replicate): p.outcome for p in pts}
    first = [at[(v, reps[0])] for v in values]
    x = [o.report.max_coherence if ax.group == "coherence" else float(v) for v, o in zip(values, first)]
    margins = [o.report[ax.assumption].margin for o in first]
    severities = [o.report[ax.assumption].severity for o in first]
    err, pooled, crossing, crossing_s, holds, breaks = {}, {}, {}, {}, {}, {}
    for dom in (ID, OOD):
        E = np.array([[at[(v, r)].result(dom).rate if not at[(v, r)].failed else 1.0 for r in reps] for v in values])
        err[dom] = E
        rows = [pooled_verdict([at[(v, r)] for r in reps], dom, eps) for v in values]
        pooled[dom] = rows
        cv, cc, mv, br = [], [], [], []
        for j in range(len(reps)):
            c, cens = crossing_point(values, E[:, j], eps)
            cv.append(c)
            cc.append(cens)
            i = next((i for i, e in enumerate(E[:, j]) if e > eps), None)
            br.append((values[i - 1], values[i]) if not cens and i is not None else None)
            xs, ys = (values, severities) if values[0] <= values[-1] else (values[::-1], severities[::-1])
            mv.append(float(np.interp(c, xs, ys)))
        crossing[dom] = crossing_summary(cv, cc, brackets=br)
        crossing_s[dom] = crossing_summary(mv, cc)
        h = None
        for v, row in zip(values, rows):
            if row[4] != "CONFIRMED":
                break
            h = v
        holds[dom] = h
        breaks[dom] = next((v for v, row in zip(values, rows) if row[4] in ("REFUTED", "ERROR")), None)
    probe = None
    bvals = tuple(v for v in ax.values if any(p.axis == ax.name and p.value == v for p in (budget or [])))
    if bvals:
        probe = summarise_axis(dataclasses.replace(ax, values=bvals), [p for p in budget if p.axis == ax.name], eps)
    return AxisSummary(ax, values, x, margins, severities, err, pooled, crossing, crossing_s, holds, breaks,
                       first[0].report[ax.assumption].domains, probe)



def fmt(v: Any, spec: str = ".3g") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec) if math.isfinite(v) else str(v)
    return str(v)


def knob_text(run: RunConfig, anchor: DataConfig = ANCHOR) -> str:
    diffs = [f"{f.name}={fmt(getattr(run.data, f.name))}" for f in dataclasses.fields(DataConfig)
             if getattr(run.data, f.name) != getattr(anchor, f.name)]
    return ", ".join(diffs) if diffs else "anchor"



@dataclass
class Ranked:
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

    The status rests on the SPEC's bound verdicts (pooled over replicates): an axis *breaks* the claim where a
    grid point is REFUTED. It breaks "while the assumption still holds" when that point's margin is <= 0 (the
    assumption is not sufficient), else "once violated"; those are ordered by the severity at the crossing
    (mean over replicates) or, if some replicates never cross, at the first REFUTED point. Without a REFUTED
    point: "no clear break" (some replicates may still cross eps) or "no break on the grid".
    """
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
            out.append(Ranked(s, f"REFUTED from {fmt(bf)} at this budget only: nothing REFUTED up to {fmt(s.budget.values[-1])} "
                                 f"with {BUDGET_FACTOR}x steps", (1.5, s.severities[i]), bf))
        elif bf is not None:
            i = s.values.index(bf)
            sev = cs.mean if not (c.n_left or c.n_right) else s.severities[i]
            robust = "" if limited is None else (f"; with {BUDGET_FACTOR}x steps REFUTED from {fmt(s.budget.breaks_from[dom])}")
            if s.margins[i] <= TOL:
                out.append(Ranked(s, f"REFUTED at {fmt(bf)} while the assumption still holds (margin {fmt(s.margins[i])}){robust}", (0, sev), bf))
            else:
                out.append(Ranked(s, f"breaks once violated (REFUTED from {fmt(bf)}){robust}", (1, sev), bf))
        elif c.n_right < R:
            out.append(Ranked(s, f"no clear break (crosses eps in {R - c.n_right}/{R} replicates)", (2, cs.mean), None))
        else:
            out.append(Ranked(s, "no break on the grid", (3, -max(s.severities)), None))
    out.sort(key=lambda r: r.key)
    return out


