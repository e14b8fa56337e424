"""Verdict rules on synthetic records with known truth (no training)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import make_record, write_claim
from scipy import stats as sps

from harness.claims import stats
from harness.claims.schema import load_claim
from harness.claims.verdicts import family_control, judge
from harness.measure.measurement import Measurement
from harness.training.trainer import History
from harness.world.config import RunConfig, TrainConfig


def _claim(tmp_path: Path, body: str, name: str = "synthetic"):
    p = write_claim(
        tmp_path,
        name,
        f'id = "{name}"\nsource = "test"\nstatement = "synthetic"\n'
        + body
        + "\n[profiles.quick]\nreplicates = 4\n[profiles.nightly]\nreplicates = 4\n",
    )
    return load_claim(p, "quick")


RATE = """kind = "rate"
[grid]
"data.alpha" = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0]
[metric]
name = "steps_to_eps"
eps = 0.05
x = "data.alpha"
[prediction]
exponent = {b0}
margin = 0.2
"""


def _steps_records(xs, b, seeds, noise, rng, cap=100000, fail=0):
    """Records whose err_id history first reaches eps at step C x^b (lognormal noise)."""
    recs = []
    for x in xs:
        for r in range(seeds):
            step = int(round(300 * x**b * math.exp(noise * rng.standard_normal())))
            censored = step > cap
            hist = History(
                steps=[0, step] if not censored else [0, cap],
                err_id=[500, 0] if not censored else [500, 400],
                err_ood=[500, 500],
                attn_id=[0.4, 0.9],
                attn_ood=[0.4, 0.9],
                train_loss=[1.0, 0.0],
                n_eval=1000,
            )
            recs.append(
                make_record(
                    key=f"{x}-{r}",
                    train_point={"data.alpha": x},
                    replicate=r,
                    failed=len(recs) < fail,
                    history=hist,
                    config=RunConfig(train=TrainConfig(steps=cap, batch=64)),
                )
            )
    return recs


XS = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0]


def test_correct_exponent_is_confirmed(tmp_path):
    c = _claim(tmp_path, RATE.format(b0=-0.6667))
    v = judge(c, _steps_records(XS, -0.6667, 4, 0.05, np.random.default_rng(0)))
    assert v.verdict == "CONFIRMED", v.line()
    assert "90% CI" in v.measurement and "8 valid grid points" in v.over


def test_wrong_exponent_is_refuted(tmp_path):
    c = _claim(tmp_path, RATE.format(b0=-1.5))
    v = judge(c, _steps_records(XS, -0.6667, 4, 0.05, np.random.default_rng(1)))
    assert v.verdict == "REFUTED" and v.p_refute < 1e-4, v.line()


def test_too_short_grid_is_inconclusive(tmp_path):
    body = RATE.format(b0=-0.6667).replace(
        "[0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0]", "[0.4, 0.6, 0.8]"
    )
    c = _claim(tmp_path, body)
    v = judge(c, _steps_records([0.4, 0.6, 0.8], -0.6667, 2, 0.4, np.random.default_rng(2)))
    assert v.verdict == "INCONCLUSIVE", v.line()
    assert any("interval" in n for n in v.notes)


def test_capped_runs_give_error_never_a_fit(tmp_path):
    c = _claim(tmp_path, RATE.format(b0=-0.6667))
    # 5 of 8 points above the cap
    v = judge(c, _steps_records(XS, -4.0, 4, 0.05, np.random.default_rng(3), cap=1500))
    assert v.verdict == "ERROR" and "cap" in v.over, v.line()


def test_censored_points_are_left_out_of_the_fit_and_named(tmp_path):
    c = _claim(tmp_path, RATE.format(b0=-3.0))
    # 0.2..0.5 capped
    v = judge(c, _steps_records(XS, -3.0, 4, 0.05, np.random.default_rng(3), cap=1500))
    assert v.details["points"][0]["censored"] == 4 and not v.details["points"][0]["valid"]
    assert "4 valid grid points" in v.over and any("capped runs left out" in n for n in v.notes)
    assert v.verdict == "CONFIRMED", v.line()  # the 4 observed points carry the true exponent


def test_a_flat_rate_is_inconclusive_and_says_the_data_carry_no_rate(tmp_path):
    """Every point reaching eps at the same step (as a minimum searched over a grid does when its
    smallest value already suffices) is a degenerate fit: INCONCLUSIVE, never CONFIRMED or REFUTED,
    with the reason named."""
    for form in ("", 'form = "sufficient"\n'):
        c = _claim(
            tmp_path, form + RATE.format(b0=-0.6667), name="flat" + ("-suff" if form else "")
        )
        v = judge(c, _steps_records(XS, 0.0, 4, 0.0, np.random.default_rng(5)))
        assert v.verdict == "INCONCLUSIVE", v.line()
        assert any("the data carry no rate" in n and "(300)" in n for n in v.notes), v.notes


def test_diverged_or_missing_runs_give_error(tmp_path):
    c = _claim(tmp_path, RATE.format(b0=-0.6667))
    recs = _steps_records(XS, -0.6667, 4, 0.05, np.random.default_rng(4), fail=10)
    assert judge(c, recs).verdict == "ERROR"
    ok = _steps_records(XS, -0.6667, 4, 0.05, np.random.default_rng(4))
    v = judge(c, ok[:-3], expected_units=len(ok))
    assert v.verdict == "ERROR" and "no record" in v.over


def _bound_records(k_per_seed, n=1000):
    return [
        make_record(
            key=str(r),
            replicate=r,
            measurements=[Measurement({"data.l_ts": 20}, n, k, k, 0.9, 0.9)],
        )
        for r, k in enumerate(k_per_seed)
    ]


BOUND = """kind = "bound"
[grid]
"data.l_ts" = [20]
[metric]
name = "error_rate"
domain = "id"
[prediction]
eps = 0.05
"""


@pytest.mark.parametrize(
    "ks,expected",
    [
        ([10, 12, 8, 11], "CONFIRMED"),
        ([90, 95, 88, 99], "REFUTED"),
        ([48, 52, 50, 49], "INCONCLUSIVE"),
    ],
)
def test_bound_verdicts(tmp_path, ks, expected):
    v = judge(_claim(tmp_path, BOUND), _bound_records(ks))
    assert v.verdict == expected, v.line()


def test_bound_decision_needs_the_bonferroni_test_to_refute():
    """63/1000 at eps 0.05: CP lower above eps and p = 0.038 alone; beside a second point Bonferroni
    doubles p past 0.05."""
    one = stats.bound_decision([(63, 1000)], 0.05)
    assert (
        one.verdict == "REFUTED"
        and one.lower > 0.05
        and one.p_refute == pytest.approx(stats.binomial_p_above(63, 1000, 0.05))
    )
    two = stats.bound_decision([(63, 1000), (10, 1000)], 0.05)
    assert two.points[0].lower > 0.05 and two.verdict == "INCONCLUSIVE" and two.p_refute == 1.0
    assert two.worst.errors == 63 and two.upper == two.points[0].upper
    assert stats.bound_decision([(10, 1000), (12, 1000)], 0.05).verdict == "CONFIRMED"
    with pytest.raises(ValueError):
        stats.bound_decision([], 0.05)


def test_clopper_pearson_matches_scipy_and_known_values():
    for k, n in [(0, 100), (3, 50), (20, 20), (17, 400)]:
        lo, hi = stats.clopper_pearson(k, n, 0.95)
        # two-sided 90% = one-sided 95% each
        ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.90, method="exact")
        assert lo == pytest.approx(ci.low, abs=1e-9) and hi == pytest.approx(ci.high, abs=1e-9)
    assert stats.clopper_pearson(0, 100)[1] == pytest.approx(1 - 0.05 ** (1 / 100))


def test_holm_and_bh_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_family_control_turns_a_weak_refutation_inconclusive(tmp_path):
    c = _claim(tmp_path, BOUND)
    weak = judge(c, _bound_records([62, 60, 61, 63]))  # rate ~0.0615 vs eps 0.05: significant alone
    strong = judge(c, _bound_records([200, 210, 190, 205]))
    assert weak.verdict == "REFUTED" and strong.verdict == "REFUTED"
    nulls = [
        dataclasses.replace(weak, verdict="CONFIRMED", p_refute=1.0, notes=[], details={})
        for _ in range(100)
    ]
    # weak: p ~ 7e-4, second smallest of 102: Holm multiplies by 101
    w, s, *ns = family_control([weak, strong, *nulls], "holm")
    assert w.verdict == "INCONCLUSIVE" and w.family.overturned and w.family.method == "holm"
    assert any("does not survive holm" in n for n in w.notes)  # the reason, in words, for people
    assert weak.verdict == "REFUTED"  # a verdict is built once: the control returns new ones
    assert s.verdict == "REFUTED" and not s.family.overturned
    assert all(v.verdict == "CONFIRMED" for v in ns)
    w, *_ = family_control([weak, strong, *nulls], "bh")  # BH multiplies by 102 / 2: it survives
    assert w.verdict == "REFUTED" and w.family.p_adjusted < 0.05


def test_trend_and_threshold_directions():
    rho, p_inc, p_dec = stats.trend_test(
        np.repeat([1, 2, 3, 4, 5], 3),
        np.repeat([0.1, 0.2, 0.3, 0.4, 0.5], 3) + np.tile([0, 0.01, -0.01], 5),
    )
    assert rho > 0.9 and p_inc < 1e-4 and p_dec > 0.99
    assert stats.mean_p_value(np.array([0.9, 0.92, 0.95]), 0.5, "greater") < 0.01


def test_interval_coverage_near_nominal():
    """Simulated noisy power laws, K = 6 points x 3 seeds, per-point mean of log y:
    the t intervals on K - 2 dof cover the true exponent at about the nominal rate."""
    rng = np.random.default_rng(7)
    x = np.array([0.15, 0.25, 0.35, 0.5, 0.7, 1.0])
    hits90 = hits95 = 0
    N = 2000
    for _ in range(N):
        logy = np.log(300) - 0.667 * np.log(x)[:, None] + 0.3 * rng.standard_normal((6, 3))
        fit = stats.fit_power_law(x, logy.mean(1))
        hits90 += fit.ci90[0] <= -0.667 <= fit.ci90[1]
        hits95 += fit.ci95[0] <= -0.667 <= fit.ci95[1]
    cov90, cov95 = hits90 / N, hits95 / N
    print(
        f"\ncoverage over {N} simulated power laws: 90% interval {cov90:.3f}, 95% interval "
        f"{cov95:.3f}"
    )
    assert abs(cov90 - 0.90) < 0.025 and abs(cov95 - 0.95) < 0.02
