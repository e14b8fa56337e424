"""Kind "trend": the metric grows (or falls) with a grid axis: a one-sided Spearman test over all
runs."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from harness.claims import stats
from harness.claims.claim import Claim
from harness.claims.kinds.base import KINDS, ClaimKind, make_verdict
from harness.claims.metrics import Row
from harness.claims.verdict import Estimate, Verdict

ALPHA = stats.SIGNIFICANCE


def describe(c: Claim) -> str:
    return f"{c.metric['name']} {c.prediction['direction']} in {c.metric['x']}"


def rho_interval(rho: float, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """Fisher-z interval and standard error of a Spearman rho over n pairs (Fieller's 1.03
    factor)."""
    if n <= 3 or not math.isfinite(rho):
        return math.nan, math.nan, math.nan
    se = 1.03 / math.sqrt(n - 3)
    z = math.atanh(max(-0.999999, min(0.999999, rho)))
    q = float(norm.ppf(0.5 + level / 2))
    return math.tanh(z - q * se), math.tanh(z + q * se), se * (1 - rho**2)


def judge(claim: Claim, rows: list[Row]) -> Verdict:
    xaxis = claim.metric["x"]
    direction = claim.prediction["direction"]
    x = np.array([float(r.point[xaxis]) for r in rows])
    y = np.array([r.value for r in rows], dtype=float)
    rho, p_inc, p_dec = stats.trend_test(x, y)
    p_for, p_against = (p_inc, p_dec) if direction == "increasing" else (p_dec, p_inc)
    verdict = "CONFIRMED" if p_for < ALPHA else ("REFUTED" if p_against < ALPHA else "INCONCLUSIVE")
    means = []
    for xv in sorted(set(x.tolist())):
        sel = y[x == xv]
        means.append(
            {
                "x": xv,
                "mean": float(sel.mean()),
                "sd": float(sel.std(ddof=1)) if len(sel) > 1 else math.nan,
                "n": int(len(sel)),
            }
        )
    n_rep = max(m["n"] for m in means)
    meas = f"Spearman rho = {rho:.3g}, one-sided p = {p_for:.3g}; means " + ", ".join(
        f"{m['x']:g}: {m['mean']:.3g}" for m in means
    )
    over = (
        f"{len(rows)} runs over {len(means)} values of {xaxis} ({n_rep} seeds each; one-sided "
        "Spearman test)"
    )
    lo, hi, se = rho_interval(rho, len(rows))
    est = Estimate("Spearman rho", float(rho), lo, hi, 0.95, se, len(rows))
    return make_verdict(
        claim,
        verdict,
        meas,
        over,
        len(means),
        n_rep,
        est,
        p_refute=p_against if verdict == "REFUTED" else 1.0,
        details={"points": means, "x_axis": xaxis, "rho": rho},
    )


EXAMPLE = """\
[grid]
"data.S1" = [0.5, 0.7, 0.9, 1.1]

[metric]
name = "error_rate"
domain = "ood"
x = "data.S1"

[prediction]
direction = "decreasing"
"""


KINDS.add(
    ClaimKind(
        "trend",
        "the metric increases or decreases along a grid axis (one-sided Spearman test)",
        {"direction": str},
        ("direction",),
        describe,
        judge,
        metric_fields={"x": str},
        example=EXAMPLE,
    ),
)
