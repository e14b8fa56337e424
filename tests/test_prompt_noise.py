"""Intervals that respect the prompt noise: never zero width from finite data, and coverage checked
by simulation (binomial prompts, seeds that differ)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import write_claim
from scipy import stats as sps

from harness.claims import stats
from harness.claims.kinds.base import KINDS
from harness.claims.mean_bound import mean_bound_decision
from harness.claims.metrics import Row
from harness.claims.prompt_noise import noisy_difference, noisy_mean
from harness.claims.schema import load_claim

COMPARISON = """id = "toy"
source = "test"
statement = "pruning 15% costs at most the margin"
kind = "comparison"
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
margin = 0.001
[profiles.quick]
replicates = 3
[profiles.nightly]
replicates = 3
"""

THRESHOLD = (
    COMPARISON.replace('kind = "comparison"', 'kind = "threshold"')
    .replace('a = { "prune.fraction" = 0.15 }\nb = { "prune.fraction" = 0.0 }\n', "")
    .replace('relation = "<="\nmargin = 0.001', 'relation = "<="\nthreshold = 0.001')
)


def _rows(fraction: float, errors: list[int], n: int = 2000) -> list[Row]:
    point = {"prune.mode": "small", "prune.fraction": fraction}
    return [Row(dict(point), k / n, replicate=i, k=k, n=n) for i, k in enumerate(errors)]


def test_two_all_zero_arms_give_no_zero_width_confirmed(tmp_path: Path):
    claim = load_claim(write_claim(tmp_path, "toy", COMPARISON), "quick")
    rows = _rows(0.0, [0, 0, 0]) + _rows(0.15, [0, 0, 0])
    v = KINDS.get("comparison").judge(claim, rows)
    est = v.estimate
    assert est.upper - est.lower > 0
    # 0 of 6000 prompts per arm bound each rate to ~5e-4: the difference is uncertain by as much,
    # so a margin of 1e-3 is confirmed only because the floor is below it; a margin of 1e-4 is not
    assert est.upper == pytest.approx(stats.zero_count_bound(6000))
    assert v.verdict == "CONFIRMED"
    tight = load_claim(
        write_claim(tmp_path / "tight", "toy", COMPARISON.replace("0.001", "0.0001")), "quick"
    )
    assert KINDS.get("comparison").judge(tight, rows).verdict == "INCONCLUSIVE"


def test_an_all_zero_bound_and_threshold_have_width(tmp_path: Path):
    zero = [(0.0, 0.0, 2000)] * 3
    point = mean_bound_decision([zero], eps=1e-4).points[0]
    assert point.upper > point.lower and point.upper == pytest.approx(
        stats.zero_count_bound(6000), rel=1e-6
    )
    assert mean_bound_decision([zero], eps=1e-4).verdict == "INCONCLUSIVE"
    claim = load_claim(write_claim(tmp_path, "toy", THRESHOLD), "quick")
    v = KINDS.get("threshold").judge(claim, _rows(0.0, [0, 0, 0]))
    assert v.estimate.upper > v.estimate.lower
    assert v.estimate.upper == pytest.approx(stats.zero_count_bound(6000))


def test_identical_values_without_prompt_noise_have_no_interval():
    x = stats.Noisy(np.array([0.5, 0.5, 0.5]))
    mi = stats.noisy_interval(x)
    assert mi.lower == -math.inf and mi.upper == math.inf


def test_prompt_noise_floors_the_interval_when_seeds_agree():
    rows = _rows(0.0, [20, 20, 20])  # 1% each, identical over seeds
    mi = stats.noisy_interval(noisy_mean(rows))
    se = math.sqrt(0.01 * 0.99 / 2000 / 3)
    assert mi.upper - mi.mean == pytest.approx(sps.t.ppf(0.95, 2) * se)


@pytest.mark.parametrize("p_a,p_b,spread", [(0.002, 0.002, 0.0), (0.01, 0.005, 0.5), (0.0, 0.0, 0)])
def test_the_one_sided_bounds_cover_the_true_difference_by_simulation(p_a, p_b, spread):
    """3 seeds whose true rates differ (lognormal spread), 2000 binomial prompts per arm: each
    one-sided 95% bound holds the true mean difference in at least 95% of 2000 simulated
    experiments (minus simulation error)."""
    rng = np.random.default_rng(7)
    n, seeds, sims = 2000, 3, 2000
    hits_upper = hits_lower = 0
    for _ in range(sims):
        scale = np.exp(spread * rng.standard_normal(seeds))
        qa, qb = np.minimum(p_a * scale, 1), np.minimum(p_b * scale, 1)
        truth = float(np.mean(qa - qb))
        a = [Row({"s": "a"}, k / n, k=int(k), n=n) for k in rng.binomial(n, qa)]
        b = [Row({"s": "b"}, k / n, k=int(k), n=n) for k in rng.binomial(n, qb)]
        mi = stats.noisy_interval(noisy_difference(list(zip(a, b))))
        hits_upper += truth <= mi.upper
        hits_lower += truth >= mi.lower
    floor = 0.95 - 2 * math.sqrt(0.95 * 0.05 / sims)
    assert hits_upper / sims >= floor and hits_lower / sims >= floor, (hits_upper, hits_lower)
