"""Kind "bound": the metric <= eps at every grid point.

error_rate: on error counts pooled over seeds. CONFIRMED if every point's
one-sided 95% Clopper-Pearson upper bound is <= eps; REFUTED when a point is
significantly above eps (exact binomial test, Bonferroni over points;
`stats.bound_decision`, shared with the fuzzing).

hinge_loss (what the theorems bound): a continuous mean, so no Clopper-Pearson:
each seed's mean over its prompts, a one-sided 95% t bound over the seeds
(floored at the prompt noise), the same CONFIRMED / REFUTED rule with a
one-sided t test, Bonferroni over points (`mean_bound.mean_bound_decision`).

"At every grid point" is the reading of a sufficient condition such as
"hinge loss <= eps at l_tr = c / alpha for every alpha": list the (alpha, l_tr)
pairs as a compound axis `"data.alpha,data.l_tr" = [[0.1, 80], [0.2, 40]]`;
all points must pass, and a refutation is Bonferroni-corrected over them.
"""

from __future__ import annotations

import math
from typing import Any

from harness.claims import stats
from harness.claims.claim import Claim
from harness.claims.kinds.base import (
    KINDS,
    ClaimKind,
    Problem,
    by_point,
    error_verdict,
    fmt_point,
    make_verdict,
)
from harness.claims.mean_bound import mean_bound_decision
from harness.claims.metrics import Row
from harness.claims.verdict import Estimate, Verdict


def describe(c: Claim) -> str:
    m = c.metric
    return f"{m['name']} ({m.get('domain', 'id')}) <= {c.prediction['eps']:.3g} at every point"


BOUND_METRICS = ("error_rate", "hinge_loss")


def check(metric: dict[str, Any], pred: dict[str, Any]) -> Problem:
    if metric.get("name") not in BOUND_METRICS:
        return (
            "metric.name",
            "kind 'bound' judges error counts or the hinge loss: the metric must be 'error_rate' "
            f"or 'hinge_loss', got {metric.get('name')!r}",
        )
    if metric.get("name") == "hinge_loss":
        return (
            None
            if 0 < pred["eps"] < math.inf
            else (
                "prediction.eps",
                f"must be > 0 and finite (a bound on the hinge loss), got {pred['eps']}",
            )
        )
    if not 0 < pred["eps"] < 1:
        return "prediction.eps", f"must be in (0, 1) (a bound on an error rate), got {pred['eps']}"
    return None


def _judge_hinge(claim: Claim, rows: list[Row]) -> Verdict:
    eps = float(claim.prediction["eps"])
    groups = list(by_point(rows).values())
    if not all(math.isfinite(r.value) and r.sd is not None and math.isfinite(r.sd) for r in rows):
        return error_verdict(
            claim,
            "non-finite hinge loss (a diverged model or a record without hinge loss)",
            len(groups),
        )
    n_rep = max(len(g) for g in groups)
    d = mean_bound_decision([[(r.value, r.sd, r.n) for r in g] for g in groups], eps)
    table = [
        {
            "point": g[0].point,
            "mean": t.mean,
            "lower95": t.lower,
            "upper95": t.upper,
            "se": t.se,
            "dof": t.dof,
            "seeds": t.n_seeds,
            "prompts_per_seed": t.n_prompts,
        }
        for g, t in zip(groups, d.points)
    ]
    w = max(d.points, key=lambda t: t.upper)
    worst = table[d.points.index(w)]
    meas = (
        f"worst point {fmt_point(worst['point'])}: mean hinge loss {w.mean:.4g}, one-sided 95% t "
        f"upper {w.upper:.4g}"
    )
    over_what = "over one seed's prompts" if w.n_seeds == 1 else "over seeds"
    over = (
        f"{len(table)} grid points; per point the mean over {w.n_seeds} seeds of each seed's mean "
        f"over {w.n_prompts} prompts "
        f"(one-sided 95% t, {w.dof} dof {over_what})"
    )
    notes = (
        []
        if d.verdict != "INCONCLUSIVE"
        else [
            "the upper bound exceeds eps but no point is significantly above it: more seeds would "
            "decide"
        ]
    )
    est = Estimate("hinge loss at the worst point", w.mean, w.lower, w.upper, 0.95, w.se, w.n_seeds)
    return make_verdict(
        claim,
        d.verdict,
        meas,
        over,
        len(table),
        n_rep,
        est,
        p_refute=d.p_refute,
        notes=notes,
        details={"points": table, "eps": eps},
    )


def judge(claim: Claim, rows: list[Row]) -> Verdict:
    if claim.metric.get("name") == "hinge_loss":
        return _judge_hinge(claim, rows)
    eps = float(claim.prediction["eps"])
    groups = list(by_point(rows).values())
    n_rep = max(len(g) for g in groups)
    d = stats.bound_decision([(sum(r.k for r in g), sum(r.n for r in g)) for g in groups], eps)
    table = [
        {
            "point": g[0].point,
            "errors": t.errors,
            "n": t.n,
            "rate": t.rate,
            "cp_lower95": t.lower,
            "cp_upper95": t.upper,
        }
        for g, t in zip(groups, d.points)
    ]
    worst = max(table, key=lambda t: t["cp_upper95"])
    meas = (
        f"worst point {fmt_point(worst['point'])}: {worst['errors']}/{worst['n']} errors = "
        f"{worst['rate']:.4f}, "
        f"one-sided 95% CP upper {worst['cp_upper95']:.4f}"
    )
    over = (
        f"{len(table)} grid points, test prompts pooled over {n_rep} seeds (Clopper-Pearson, "
        "one-sided 95%)"
    )
    notes = (
        []
        if d.verdict != "INCONCLUSIVE"
        else [
            "the upper bound exceeds eps but no point is significantly above it: more test prompts "
            "or seeds would decide"
        ]
    )
    r, n = worst["rate"], worst["n"]
    est = Estimate(
        "error rate at the worst point",
        r,
        worst["cp_lower95"],
        worst["cp_upper95"],
        0.95,
        math.sqrt(max(r * (1 - r), 1.0 / n) / n),
        n,
    )
    return make_verdict(
        claim,
        d.verdict,
        meas,
        over,
        len(table),
        n_rep,
        est,
        p_refute=d.p_refute,
        notes=notes,
        details={"points": table, "eps": eps},
    )


EXAMPLE = """\
[grid]
"data.l_ts" = [10, 20, 40]

[metric]
name = "hinge_loss"
domain = "id"

[prediction]
eps = 0.25
"""


KINDS.add(
    ClaimKind(
        "bound",
        "metric <= eps at every grid point (error_rate: one-sided Clopper-Pearson on pooled "
        "counts; hinge_loss: t over seeds)",
        {"eps": float},
        ("eps",),
        describe,
        judge,
        check=check,
        example=EXAMPLE,
    ),
)
