"""Kind "bound": error <= eps at every grid point, on error counts pooled over seeds.

CONFIRMED if every point's one-sided 95% Clopper-Pearson upper bound is <= eps;
REFUTED when a point is significantly above eps (exact binomial test,
Bonferroni over points; `stats.bound_decision`, shared with the fuzzing).
"""

from __future__ import annotations

import math
from typing import Any

from harness.claims import stats
from harness.claims.claim import Claim
from harness.claims.kinds.base import KINDS, ClaimKind, Problem, by_point, fmt_point, make_verdict
from harness.claims.metrics import Row
from harness.claims.verdict import Estimate, Verdict


def describe(c: Claim) -> str:
    m = c.metric
    return f"{m['name']} ({m.get('domain', 'id')}) <= {c.prediction['eps']:.3g} at every point"


def check(metric: dict[str, Any], pred: dict[str, Any]) -> Problem:
    if metric.get("name") != "error_rate":
        return "metric.name", f"kind 'bound' judges error counts: the metric must be 'error_rate', got {metric.get('name')!r}"
    if not 0 < pred["eps"] < 1:
        return "prediction.eps", f"must be in (0, 1) (a bound on an error rate), got {pred['eps']}"
    return None


def judge(claim: Claim, rows: list[Row]) -> Verdict:
    eps = float(claim.prediction["eps"])
    groups = list(by_point(rows).values())
    n_rep = max(len(g) for g in groups)
    d = stats.bound_decision([(sum(r.k for r in g), sum(r.n for r in g)) for g in groups], eps)
    table = [{"point": g[0].point, "errors": t.errors, "n": t.n, "rate": t.rate, "cp_lower95": t.lower, "cp_upper95": t.upper}
             for g, t in zip(groups, d.points)]
    worst = max(table, key=lambda t: t["cp_upper95"])
    meas = (f"worst point {fmt_point(worst['point'])}: {worst['errors']}/{worst['n']} errors = {worst['rate']:.4f}, "
            f"one-sided 95% CP upper {worst['cp_upper95']:.4f}")
    over = f"{len(table)} grid points, test prompts pooled over {n_rep} seeds (Clopper-Pearson, one-sided 95%)"
    notes = [] if d.verdict != "INCONCLUSIVE" else ["the upper bound exceeds eps but no point is significantly above it: more test prompts or seeds would decide"]
    r, n = worst["rate"], worst["n"]
    est = Estimate("error rate at the worst point", r, worst["cp_lower95"], worst["cp_upper95"], 0.95,
                   math.sqrt(max(r * (1 - r), 1.0 / n) / n), n)
    return make_verdict(claim, d.verdict, meas, over, len(table), n_rep, est, p_refute=d.p_refute, notes=notes,
                        details={"points": table, "eps": eps})


KINDS.register("bound", ClaimKind(
    "bound", "error <= eps at every grid point (one-sided Clopper-Pearson on pooled error counts)",
    {"eps": float}, ("eps",), describe, judge, check=check))
