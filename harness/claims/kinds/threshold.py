"""Kind "threshold": the mean of the metric over runs is >= (or <=) a threshold: one-sided t
bounds, never narrower than the prompt noise of the measurements (harness.claims.prompt_noise)."""

from __future__ import annotations

import numpy as np

from harness.claims import stats
from harness.claims.claim import Claim
from harness.claims.kinds.base import KINDS, ClaimKind, by_point, error_verdict, make_verdict
from harness.claims.metrics import Row
from harness.claims.prompt_noise import noisy_mean
from harness.claims.verdict import Estimate, Verdict

ALPHA = stats.SIGNIFICANCE


def describe(c: Claim) -> str:
    return f"mean {c.metric['name']} {c.prediction['relation']} {c.prediction['threshold']:.3g}"


def judge(claim: Claim, rows: list[Row]) -> Verdict:
    rel, thr = claim.prediction["relation"], float(claim.prediction["threshold"])
    noisy = noisy_mean(rows)
    vals = noisy.values
    if not np.all(np.isfinite(vals)):
        return error_verdict(claim, "non-finite measurements")
    mi = stats.noisy_interval(noisy, 0.95)
    if rel == ">=":
        ok, bad, p = mi.lower >= thr, mi.upper < thr, stats.noisy_p_value(noisy, thr, "less")
    else:
        ok, bad, p = mi.upper <= thr, mi.lower > thr, stats.noisy_p_value(noisy, thr, "greater")
    verdict = "CONFIRMED" if ok else ("REFUTED" if bad and p < ALPHA else "INCONCLUSIVE")
    groups = by_point(rows)
    meas = f"mean {mi.mean:.4g}, one-sided 95% bounds [{mi.lower:.4g}, {mi.upper:.4g}]"
    over = f"{len(vals)} measurements over {len(groups)} grid points (t, {len(vals) - 1} dof)"
    per = [
        {"point": g[0].point, "mean": float(np.mean([r.value for r in g])), "n": len(g)}
        for g in groups.values()
    ]
    est = Estimate(
        f"mean {claim.metric['name']}",
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
        len(groups),
        max(p["n"] for p in per),
        est,
        p_refute=p if verdict == "REFUTED" else 1.0,
        details={"points": per, "values": vals.tolist()},
    )


EXAMPLE = """\
[grid]
"data.S1" = [1.5]

[metric]
name = "attn_mass"
domain = "ood"
at = "final"

[prediction]
relation = ">="
threshold = 0.9
"""


KINDS.add(
    ClaimKind(
        "threshold",
        "the mean of the metric over runs against a threshold (one-sided t bounds)",
        {"relation": str, "threshold": float},
        ("relation", "threshold"),
        describe,
        judge,
        example=EXAMPLE,
    ),
)
