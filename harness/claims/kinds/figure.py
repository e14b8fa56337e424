"""Kind "figure": reproduce a figure of the paper point by point.

The claim file lists the paper's points, read off its figure, as `[[prediction.points]]` tables
(`x`, `series`, `value`, optionally their own `tolerance`): the digitising tolerance says how far
the true value may lie from the one read off (a factor 1 + tolerance either way). Each point is
judged on the ratio measured / paper, with the measured mean's interval over seeds and prompts
(never narrower than the prompt noise or the prompts' resolution) widened by the tolerance. The
intervals are simultaneous over the points (Bonferroni), so one figure of many points is not
refuted by chance. CONFIRMED when every point's interval lies within a factor `factor` (default 2)
of the paper's value; REFUTED when some point's interval lies wholly outside it; else INCONCLUSIVE.

A declared mixture factor (`[metric] mixture`, harness.world.mixtures) splits the seeds into the
worlds they drew: each world is judged apart and reported, never averaged; the claim is CONFIRMED
only when every world reproduces the figure, and REFUTED when some world cannot.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from harness.claims import stats
from harness.claims.claim import Claim
from harness.claims.kinds.base import KINDS, ClaimKind, Problem, error_verdict, make_verdict
from harness.claims.metrics import Row
from harness.claims.prompt_noise import noisy_mean
from harness.claims.stats import SIGNIFICANCE
from harness.claims.verdict import Estimate, Verdict
from harness.claims.world_split import rows_by_world
from harness.world.mixtures import MIXTURE_FACTORS

ALPHA = stats.SIGNIFICANCE
DEFAULT_FACTOR, DEFAULT_TOLERANCE = 2.0, 0.2
POINT_KEYS = {"x": (int, float, str), "series": (int, float, str), "value": (int, float)}
INSIDE, OUTSIDE, UNDECIDED = "inside", "outside", "undecided"


@dataclass(frozen=True)
class PointResult:
    """One paper point against its measurement (ratio = measured / paper)."""

    x: Any
    series: Any
    paper: float
    tolerance: float
    n_seeds: int
    mean: float
    lower: float  # simultaneous bounds of the measured mean
    upper: float
    resolution: float  # the smallest rate the prompts behind the point can tell from 0
    ratio: float  # measured (floored at the resolution) / paper
    ratio_lower: float  # with the digitising tolerance
    ratio_upper: float
    status: str  # inside, outside or undecided (the factor band)
    p_outside: float  # one-sided p that the mean lies outside the band's nearer edge


def _factor(c: Claim) -> float:
    return float(c.prediction.get("factor", DEFAULT_FACTOR))


def describe(c: Claim) -> str:
    n = len(c.prediction.get("points", []))
    return (
        f"{c.metric['name']} at {n} points of the paper's figure, each within a factor "
        f"{_factor(c):g} of the paper's value"
    )


def _point_result(
    p: dict[str, Any], rows: list[Row], level: float, factor: float, default_tol: float
) -> PointResult:
    value, tol = float(p["value"]), float(p.get("tolerance", default_tol))
    noisy = noisy_mean(rows)
    mi = stats.noisy_interval(noisy, level)
    lo, hi = max(mi.lower, 0.0), mi.upper
    paper_hi, paper_lo = value * (1 + tol), value / (1 + tol)
    r_lo, r_hi = lo / paper_hi, hi / paper_lo
    status = (
        INSIDE
        if r_lo >= 1 / factor and r_hi <= factor
        else OUTSIDE
        if r_hi < 1 / factor or r_lo > factor
        else UNDECIDED
    )
    if mi.mean < value:  # measured below the paper: the band's lower edge
        p_out = stats.noisy_p_value(noisy, paper_lo / factor, "less")
    else:
        p_out = stats.noisy_p_value(noisy, paper_hi * factor, "greater")
    return PointResult(
        p["x"],
        p.get("series"),
        value,
        tol,
        len(rows),
        mi.mean,
        lo,
        hi,
        noisy.resolution,
        max(mi.mean, noisy.resolution) / value,
        r_lo,
        r_hi,
        status,
        p_out,
    )


def _judge_points(claim: Claim, rows: list[Row]) -> tuple[list[PointResult], list[str]]:
    """Every paper point against the rows at its (x, series); the points with no rows by name."""
    x_axis, s_axis = claim.metric["x"], claim.metric["series"]
    at: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        at[(repr(r.point.get(x_axis)), repr(r.point.get(s_axis)))].append(r)
    points = claim.prediction["points"]
    level = 1.0 - ALPHA / (2 * len(points))  # two one-sided bounds per point, Bonferroni
    factor, tol = _factor(claim), float(claim.prediction.get("tolerance", DEFAULT_TOLERANCE))
    out, missing = [], []
    for p in points:
        sel = at.get((repr(p["x"]), repr(p.get("series"))), [])
        if len(sel) < 2:
            missing.append(f"{x_axis}={p['x']}, {s_axis}={p.get('series')}")
            continue
        out.append(_point_result(p, sel, level, factor, tol))
    return out, missing


def decide(points: list[PointResult]) -> tuple[str, float]:
    """(verdict, p) of one world's points: CONFIRMED all inside, REFUTED some outside."""
    if all(p.status == INSIDE for p in points):
        return "CONFIRMED", 1.0
    outside = [p for p in points if p.status == OUTSIDE]
    if outside:
        p = min(1.0, min(q.p_outside for q in outside) * 2 * len(points))
        return ("REFUTED" if p < ALPHA else "INCONCLUSIVE"), p
    return "INCONCLUSIVE", 1.0


def score(points: list[PointResult]) -> float:
    """The mean |log ratio| over the points (a measured 0 floored at its resolution): the
    calibration objective (harness.calibrate)."""
    logs = [abs(math.log(p.ratio)) for p in points if p.ratio > 0 and math.isfinite(p.ratio)]
    return sum(logs) / len(logs) if logs else math.inf


def _worlds(claim: Claim, rows: list[Row]) -> dict[str, list[Row]]:
    """The rows by the level of the claim's mixture factor (one world, '', without one)."""
    name = claim.metric.get("mixture")
    return rows_by_world(claim, rows, name) if name else {"": rows}


def curves(claim: Claim, rows: list[Row]) -> list[dict[str, Any]]:
    """The measured curve of every series over the whole grid of x (mean over seeds, 95% bounds):
    what the figure draws under the paper's points."""
    x_axis, s_axis = claim.metric["x"], claim.metric["series"]
    at: dict[tuple[Any, Any], list[Row]] = defaultdict(list)
    for r in rows:
        at[(r.point.get(s_axis), r.point.get(x_axis))].append(r)
    out = []
    for (series, x), sel in at.items():
        mi = stats.noisy_interval(noisy_mean(sel), 0.95)
        out.append(
            {
                "series": series,
                "x": x,
                "mean": mi.mean,
                "lower": max(mi.lower, 0.0),
                "upper": mi.upper,
            }
        )
    return out


def _worst(points: list[PointResult]) -> PointResult:
    return max(points, key=lambda p: abs(math.log(p.ratio)) if p.ratio > 0 else math.inf)


def _world_text(name: str, points: list[PointResult], verdict: str) -> str:
    inside = sum(p.status == INSIDE for p in points)
    outside = sum(p.status == OUTSIDE for p in points)
    w = _worst(points)
    return (
        f"{name or 'all seeds'}: {verdict}; {inside} of {len(points)} points within the factor, "
        f"{outside} wholly outside; worst ratio {w.ratio:.3g} at x={w.x}, series={w.series}"
    )


def judge(claim: Claim, rows: list[Row]) -> Verdict:
    worlds = _worlds(claim, rows)
    judged: dict[str, tuple[list[PointResult], str, float]] = {}
    notes: list[str] = []
    for name, wrows in worlds.items():
        pts, missing = _judge_points(claim, wrows)
        if missing and not name:
            return error_verdict(claim, f"no measurement (2 seeds) at {'; '.join(missing)}")
        if missing:
            notes.append(f"world {name!r}: fewer than 2 seeds at {len(missing)} points")
        if pts:
            judged[name] = (pts, *decide(pts))
    if not judged:
        return error_verdict(claim, "no world has 2 seeds at every point")
    verdicts = [v for _, v, _ in judged.values()]
    if "REFUTED" in verdicts:
        p = min(p for _, v, p in judged.values() if v == "REFUTED") * len(judged)
        verdict = "REFUTED" if p < SIGNIFICANCE else "INCONCLUSIVE"  # Bonferroni over the worlds
        if verdict == "INCONCLUSIVE":
            notes.append(f"a world refutes, but not after Bonferroni over {len(judged)} worlds")
    else:
        every = set(verdicts) == {"CONFIRMED"} and len(judged) == len(worlds)
        verdict = "CONFIRMED" if every else "INCONCLUSIVE"
        p = 1.0
    all_pts = [q for pts, _, _ in judged.values() for q in pts]
    w = _worst(all_pts)
    seeds = Counter({n: len({r.replicate for r in rs}) for n, rs in worlds.items()})
    mixture = claim.metric.get("mixture", "")
    if mixture:
        split = ", ".join(f"{seeds[n]} in {n!r}" for n in worlds)
        notes.insert(0, f"mixture factor {mixture}: seeds {split}; each world judged apart")
    notes += [_world_text(n, pts, v) for n, (pts, v, _) in judged.items()]
    meas = (
        f"worst ratio measured/paper {w.ratio:.3g} [{w.ratio_lower:.3g}, {w.ratio_upper:.3g}] at "
        f"{claim.metric['x']}={w.x}, {claim.metric['series']}={w.series}; "
        f"{sum(q.status == INSIDE for q in all_pts)} of {len(all_pts)} points within a factor "
        f"{_factor(claim):g}"
    )
    over = (
        f"{len(claim.prediction['points'])} paper points, each the mean over seeds of its prompts' "
        f"{claim.metric['name']}; intervals simultaneous (Bonferroni, 95%), widened by the "
        "digitising tolerance"
    )
    est = Estimate(
        "ratio measured / paper at the worst point",
        w.ratio,
        w.ratio_lower,
        w.ratio_upper,
        0.95,
        math.nan,
        w.n_seeds,
    )
    return make_verdict(
        claim,
        verdict,
        meas,
        over,
        len(claim.prediction["points"]),
        max(seeds.values()),
        est,
        p_refute=min(p, 1.0) if verdict == "REFUTED" else 1.0,
        notes=notes,
        details={
            "x_axis": claim.metric["x"],
            "series_axis": claim.metric["series"],
            "factor": _factor(claim),
            "mixture": mixture,
            "worlds": {
                n: {
                    "verdict": v,
                    "seeds": seeds[n],
                    "score": score(pts),
                    "points": [asdict(q) for q in pts],
                    "curves": curves(claim, worlds[n]),
                }
                for n, (pts, v, _) in judged.items()
            },
            "score": score(all_pts),
        },
    )


def check(metric: dict[str, Any], pred: dict[str, Any]) -> Problem:
    """Points are tables with x, series and a positive value; factor > 1; tolerances >= 0."""
    if not isinstance(pred.get("points"), list) or not pred["points"]:
        return "prediction.points", "a non-empty list of tables {x, series, value}"
    for i, p in enumerate(pred["points"]):
        key = f"prediction.points[{i}]"
        if not isinstance(p, dict):
            return key, f"must be a table {{x, series, value}}, got {p!r}"
        for k in p:
            if k not in {*POINT_KEYS, "tolerance"}:
                return f"{key}.{k}", "unknown key (a point has x, series, value, tolerance)"
        for k, types in POINT_KEYS.items():
            if k not in p:
                return f"{key}.{k}", "missing"
            if not isinstance(p[k], types) or isinstance(p[k], bool):
                return f"{key}.{k}", f"must be a number or a name, got {p[k]!r}"
        if not (math.isfinite(float(p["value"])) and p["value"] > 0):
            return f"{key}.value", f"must be finite and > 0 (a ratio divides by it): {p['value']}"
        if float(p.get("tolerance", 0.0)) < 0:
            return f"{key}.tolerance", f"must be >= 0, got {p['tolerance']}"
    if not _finite_above(pred.get("factor", DEFAULT_FACTOR), 1.0):
        return "prediction.factor", f"must be a finite number > 1, got {pred.get('factor')!r}"
    if float(pred.get("tolerance", DEFAULT_TOLERANCE)) < 0:
        return "prediction.tolerance", f"must be >= 0, got {pred.get('tolerance')}"
    if metric.get("mixture") and metric["mixture"] not in MIXTURE_FACTORS:
        from harness.core.registry import suggestion

        return "metric.mixture", f"unknown mixture factor {metric['mixture']!r}" + suggestion(
            metric["mixture"], MIXTURE_FACTORS.names()
        )
    return None


def _finite_above(v: Any, lo: float) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(float(v)) and float(v) > lo


def check_points(c: Claim) -> Problem:
    """x and series name grid axes of the claim, and every point lies on its grid."""
    for key in ("x", "series"):
        if c.metric[key] not in c.grid:
            return f"metric.{key}", f"{c.metric[key]!r} is not a plain grid axis of this claim"
    for i, p in enumerate(c.prediction["points"]):
        for key in ("x", "series"):
            values = c.grid[c.metric[key]]
            if p[key] not in values:
                return (
                    f"prediction.points[{i}].{key}",
                    f"{p[key]!r} is not on the grid of {c.metric[key]} ({values})",
                )
    return None


EXAMPLE = """\
[grid]
"prune.mode" = ["small", "random"]
"prune.fraction" = [0.0, 0.4]

[metric]
name = "error_rate"
domain = "ood"
x = "prune.fraction"
series = "prune.mode"

[prediction]
points = [
  { x = 0.0, series = "small", value = 7.0e-3 },
  { x = 0.4, series = "random", value = 4.5e-2 },
]
"""


KINDS.add(
    ClaimKind(
        "figure",
        "each of the paper's figure points within a factor of its measured value "
        "(simultaneous intervals over seeds and prompts, digitising tolerance)",
        {"points": list, "factor": float, "tolerance": float},
        ("points",),
        describe,
        judge,
        metric_fields={"x": str, "series": str},
        metric_optional={"mixture": str},
        check=check,
        check_claim=check_points,
        example=EXAMPLE,
    ),
)
