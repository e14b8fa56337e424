"""Kind "rate": y ~ C x^b, the exponent b fitted against its prediction b0 +- margin.

Mean of log y over seeds per grid point, OLS on the K points, t interval with
K - 2 dof (docs/verdicts.md). CONFIRMED if the 90% interval lies inside the margin,
REFUTED if the 95% interval lies outside it, else INCONCLUSIVE with what more
points would buy. Censored points (a run at its cap) are left out of the fit.

A claim of form "sufficient" (the theorem says what is enough, e.g. T >= Omega(alpha^(-2/3)))
is tested one-sided (`stats.rate_decision_sufficient`): with prediction.limit = "lower"
(default) the fitted exponent must not be more negative than b0 - margin (y must not grow
faster than x^b0 as x falls); "upper": not above b0 + margin (for scalings as x grows).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from harness.claims import stats
from harness.claims.claim import Claim
from harness.claims.kinds.base import (
    KINDS,
    ClaimKind,
    Problem,
    error_verdict,
    make_verdict,
    metric_label,
)
from harness.claims.metrics import Row
from harness.claims.verdict import Estimate, Verdict

MAX_CENSORED_FRACTION = 0.5  # more runs at the iteration cap than this: ERROR
MIN_RATE_POINTS = 3  # valid grid points a rate fit needs


def describe(c: Claim) -> str:
    p, m = c.prediction, c.metric
    off = " (+ offset c)" if p.get("offset") else ""
    if c.form == "sufficient":
        lim = p.get("limit", "lower")
        edge = p["exponent"] - p["margin"] if lim == "lower" else p["exponent"] + p["margin"]
        return (
            f"{metric_label(c)} ~ {m['x']}^b{off}, sufficient: b "
            f"{'>=' if lim == 'lower' else '<='} {edge:.4g} (b0 = {p['exponent']:.4g})"
        )
    return f"{metric_label(c)} ~ {m['x']}^b{off}, b = {p['exponent']:.4g} +- {p['margin']:.3g}"


def check(metric: dict[str, Any], pred: dict[str, Any]) -> Problem:
    if pred["margin"] <= 0:
        return (
            "prediction.margin",
            f"must be > 0 (the half-width around the exponent), got {pred['margin']}",
        )
    if pred.get("limit", "lower") not in stats.LIMITS:
        return (
            "prediction.limit",
            "must be 'lower' or 'upper' (the side a sufficient condition limits), got "
            f"{pred['limit']!r}",
        )
    return None


def _per_point(
    rows: list[Row], xaxis: str
) -> tuple[list[dict[str, Any]], list[float], list[float], list[float]]:
    """The per-x table and the valid points' x, mean log y and geometric mean."""
    per_x: dict[float, list[Row]] = defaultdict(list)
    for r in rows:
        per_x[float(r.point[xaxis])].append(r)
    table, xs, mly, gm = [], [], [], []
    for x in sorted(per_x):
        g = per_x[x]
        cens = sum(r.censored for r in g)
        vals = np.array([r.value for r in g], dtype=float)
        positive = bool(np.all(vals > 0))
        valid = cens == 0 and positive
        table.append(
            {
                "x": x,
                "mean_log_y": float(np.log(vals).mean()) if positive else math.nan,
                "sd_log_y": float(np.log(vals).std(ddof=1))
                if len(vals) > 1 and positive
                else math.nan,
                "n": len(g),
                "censored": cens,
                "valid": valid,
            }
        )
        if valid:
            xs.append(x)
            mly.append(float(np.log(vals).mean()))
            gm.append(float(np.exp(np.log(vals).mean())))
    return table, xs, mly, gm


def _notes(
    fit: stats.RateFit,
    verdict: str,
    table: list[dict[str, Any]],
    b0: float,
    margin: float,
    xs: np.ndarray,
) -> list[str]:
    notes = [f"local slopes (curvature check): {', '.join(f'{s:.3g}' for s in fit.local_slopes)}"]
    if any(t["censored"] for t in table):
        notes.append(
            "points with capped runs left out of the fit: "
            f"{[t['x'] for t in table if t['censored']]}"
        )
    valid = [t["mean_log_y"] for t in table if t["valid"]]
    if valid and max(valid) - min(valid) == 0:
        notes.append(
            "degenerate fit: every valid grid point gives the same value "
            f"({math.exp(valid[0]):.3g}) in every seed, so "
            "the data carry no rate at all (for a minimum searched over a grid, the grid's "
            "smallest value already "
            "reaches the threshold everywhere); the exponent cannot be tested on this grid"
        )
    elif not (math.isfinite(fit.se) and fit.se > 0):
        notes.append(
            "degenerate fit: the per-point means lie exactly on a line (zero residual), so the "
            "interval has no width and proves nothing; add grid points"
        )
    elif verdict == "INCONCLUSIVE":
        width = fit.ci90[1] - fit.ci90[0]
        if width <= 2 * margin:
            notes.append(
                f"the 90% interval (width {width:.3g}) is narrower than the margin "
                f"({2 * margin:.3g}) but sits partly outside it: "
                f"b is {fit.exponent - b0:+.3g} from the prediction; more grid points or seeds "
                "would decide between CONFIRMED and REFUTED"
            )
        else:
            need = stats.points_needed(fit, margin, xs)
            more = (
                f"about {need} grid points at this scatter would narrow it to the margin"
                if need and need > len(xs)
                else "more grid points alone would not narrow it enough at this scatter:"
                " add seeds or widen the swept range"
            )
            notes.append(f"90% interval width {width:.3g} vs margin width {2 * margin:.3g}; {more}")
    return notes


def judge(claim: Claim, rows: list[Row]) -> Verdict:
    xaxis = claim.metric["x"]
    b0, margin = float(claim.prediction["exponent"]), float(claim.prediction["margin"])
    table, xs, mly, gm = _per_point(rows, xaxis)
    n_rep = max(t["n"] for t in table)
    total_cens = sum(r.censored for r in rows)
    over = (
        f"{len(xs)} valid grid points x {n_rep} seeds (OLS on per-point means of log "
        f"[{metric_label(claim)}]; t, {max(len(xs) - 2, 0)} dof)"
    )
    if total_cens / len(rows) > MAX_CENSORED_FRACTION:
        return error_verdict(
            claim, f"{total_cens} of {len(rows)} runs hit the iteration/search cap", len(table)
        )
    if len(xs) < MIN_RATE_POINTS:
        cens_pts = sum(1 for t in table if t["censored"])
        return error_verdict(
            claim,
            f"only {len(xs)} valid grid points (need {MIN_RATE_POINTS}); {cens_pts} points have "
            "capped runs",
            len(table),
        )
    xs_a = np.array(xs)
    offset = claim.prediction.get("offset") and len(xs) >= 4
    fit = (
        stats.fit_power_law_offset(xs_a, np.array(gm))
        if offset
        else stats.fit_power_law(xs_a, np.array(mly))
    )
    if claim.form == "sufficient":
        verdict, p = stats.rate_decision_sufficient(
            fit, b0, margin, claim.prediction.get("limit", "lower")
        )
    else:
        verdict, p = stats.rate_decision(fit, b0, margin)
    details: dict[str, Any] = {
        "points": table,
        "x_axis": xaxis,
        "y_label": metric_label(claim),
        "exponent": fit.exponent,
        "intercept": fit.intercept,
        "se": fit.se,
        "ci90": fit.ci90,
        "ci95": fit.ci95,
        "local_slopes": fit.local_slopes,
        "offset": fit.offset,
        "dof": fit.dof,
    }
    meas = (
        f"b = {fit.exponent:.3g}, 90% CI [{fit.ci90[0]:.3g}, {fit.ci90[1]:.3g}], 95% CI "
        f"[{fit.ci95[0]:.3g}, {fit.ci95[1]:.3g}]"
    )
    est = Estimate("exponent b", fit.exponent, fit.ci90[0], fit.ci90[1], 0.90, fit.se, len(xs))
    return make_verdict(
        claim,
        verdict,
        meas,
        over,
        len(xs),
        n_rep,
        est,
        p_refute=p,
        notes=_notes(fit, verdict, table, b0, margin, xs_a),
        details=details,
    )


EXAMPLE = """\
[grid]
"data.beta" = [1.0, 1.5, 2.0, 3.0]

[metric]
name = "steps_to_eps"
threshold_on = "hinge_loss"
eps = 0.05
domain = "id"
x = "data.beta"

[prediction]
exponent = -2.0
margin = 0.4
"""


KINDS.add(
    ClaimKind(
        "rate",
        "a power law y ~ C x^b: the fitted exponent against b0 +- margin",
        {"exponent": float, "margin": float, "offset": bool, "limit": str},
        ("exponent", "margin"),
        describe,
        judge,
        metric_fields={"x": str},
        check=check,
        fitted=True,
        example=EXAMPLE,
    ),
)
