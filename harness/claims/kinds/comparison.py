"""Kind "comparison": metric[a] - metric[b] <= margin (or >= margin), paired by seed.

The two sides are eval points of the same trained model measured on the same
test prompts (or train points sharing seeds through `pair_over`); one-sided
t bounds on the mean paired difference decide, never narrower than the prompt noise of the two
arms and the resolution of their prompts (harness.claims.prompt_noise).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from harness.claims import stats
from harness.claims.claim import Claim
from harness.claims.kinds.base import KINDS, ClaimKind, Problem, error_verdict, make_verdict
from harness.claims.metrics import Row
from harness.claims.prompt_noise import noisy_difference
from harness.claims.verdict import Estimate, Verdict
from harness.core.jsonio import canonical

ALPHA = stats.SIGNIFICANCE


def describe(c: Claim) -> str:
    p, m = c.prediction, c.metric
    return (
        f"{m['name']}[{canonical(m['a'])}] - {m['name']}[{canonical(m['b'])}] {p['relation']} "
        f"{p['margin']:.3g}"
    )


def judge(claim: Claim, rows: list[Row]) -> Verdict:
    a_sel, b_sel = claim.metric["a"], claim.metric["b"]
    rel, margin = claim.prediction["relation"], float(claim.prediction["margin"])
    sides: dict[str, dict[str, Row]] = {"a": {}, "b": {}}
    for r in rows:
        for side, sel in (("a", a_sel), ("b", b_sel)):
            if all(r.point.get(k) == v for k, v in sel.items()):
                rest = {k: v for k, v in r.point.items() if k not in sel}
                sides[side][canonical([rest, r.replicate])] = r
    keys = sorted(set(sides["a"]) & set(sides["b"]))
    n_points = len({json.dumps(json.loads(k)[0], sort_keys=True) for k in keys})
    if len(keys) < 2:
        return error_verdict(claim, f"only {len(keys)} paired measurements (need 2)")
    noisy = noisy_difference([(sides["a"][k], sides["b"][k]) for k in keys])
    d = noisy.values
    mi = stats.noisy_interval(noisy, 0.95)
    if rel == "<=":
        ok, bad = mi.upper <= margin, mi.lower > margin
        p = stats.noisy_p_value(noisy, margin, "greater")
    else:
        ok, bad = mi.lower >= margin, mi.upper < margin
        p = stats.noisy_p_value(noisy, margin, "less")
    verdict = "CONFIRMED" if ok else ("REFUTED" if bad and p < ALPHA else "INCONCLUSIVE")
    meas = (
        f"mean paired difference {mi.mean:.4g}, one-sided 95% bounds [{mi.lower:.4g}, "
        f"{mi.upper:.4g}]"
    )
    over = (
        f"{len(keys)} pairs (same trained model and test prompts, paired by seed; t, "
        f"{len(keys) - 1} dof)"
    )
    notes = []
    if float(np.std(d)) == 0.0:
        notes.append(
            f"all {len(keys)} paired differences equal {d[0]:.4g}: the interval is the prompt "
            "noise and resolution of the test prompts alone"
            if math.isfinite(mi.upper)
            else f"all {len(keys)} paired differences equal {d[0]:.4g} and the metric carries no "
            "prompt noise: nothing bounds the mean (no interval)"
        )
    a_mean = float(np.mean([sides["a"][k].value for k in keys]))
    b_mean = float(np.mean([sides["b"][k].value for k in keys]))
    est = Estimate(
        "mean paired difference a - b",
        mi.mean,
        mi.lower,
        mi.upper,
        0.95,
        mi.standard_error,
        mi.n,
    )
    return make_verdict(
        claim,
        verdict,
        meas,
        over,
        n_points,
        len(keys) // max(n_points, 1),
        est,
        p_refute=p if verdict == "REFUTED" else 1.0,
        notes=notes + [f"mean a = {a_mean:.4g}, mean b = {b_mean:.4g}"],
        details={"differences": d.tolist(), "a_mean": a_mean, "b_mean": b_mean},
    )


def check_sides(c: Claim) -> Problem:
    """metric.a and metric.b are given and name only grid axes of the claim."""
    m = c.metric
    for side in ("a", "b"):
        if side not in m:
            return (
                f"metric.{side}",
                "missing (a comparison names the eval points a and b it pairs)",
            )
        for k in m[side]:
            if k not in c.axis_names:
                return (
                    f"metric.{side}.{k}",
                    f"not a grid axis of this claim (axes: {', '.join(c.axis_names)})",
                )
    return None


def sides(c: Claim) -> dict[str, dict[str, Any]]:
    """The two eval-point selections the comparison pairs."""
    return {f"metric.{side}": c.metric[side] for side in ("a", "b")}


EXAMPLE = """\
[grid]
"prune.mode" = ["small"]
"prune.fraction" = [0.0, 0.15]

[metric]
name = "error_rate"
domain = "id"
a = { "prune.fraction" = 0.15 }
b = { "prune.fraction" = 0.0 }

[prediction]
relation = "<="
margin = 0.02
"""


KINDS.add(
    ClaimKind(
        "comparison",
        "a paired difference metric[a] - metric[b] against a margin (one-sided t bounds)",
        {"relation": str, "margin": float},
        ("relation", "margin"),
        describe,
        judge,
        metric_fields={"a": dict, "b": dict},
        check_claim=check_sides,
        selections=sides,
        example=EXAMPLE,
    ),
)
