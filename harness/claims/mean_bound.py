"""The bound rule on a continuous mean (the hinge loss), beside `stats.bound_decision` on error
counts.

A hinge loss is not a count of errors, so Clopper-Pearson does not apply. Each seed gives a mean
(and sd) over its test prompts; the point's interval is a one-sided t interval over the seeds' means
(see `mean_point_bound` for why seeds, not pooled prompts), and the decision is `stats.bound_rule`:
CONFIRMED if every point's upper bound is <= eps, REFUTED if some lower bound is > eps and the
smallest one-sided t p-value, Bonferroni over the points, is below the significance level, else
INCONCLUSIVE."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from harness.claims.stats import (
    CONFIDENCE,
    SIGNIFICANCE,
    BoundDecision,
    bound_rule,
    zero_count_bound,
)


@dataclass(frozen=True)
class MeanPointBound:
    """A continuous mean at one point (e.g. the hinge loss): the mean over seeds of each seed's mean
    over its prompts, one-sided t bounds, the one-sided t p-value for mean > eps, and what the
    interval is over."""

    mean: float
    lower: float
    upper: float
    p_above: float
    se: float
    dof: int
    n_seeds: int
    n_prompts: int  # per seed

    @property
    def rate(self) -> float:
        return self.mean


def mean_point_bound(
    per_seed: Sequence[tuple[float, float, int]], eps: float, confidence: float = CONFIDENCE
) -> MeanPointBound:
    """(mean over prompts, sd over prompts, n prompts) of each seed -> the point's bound.

    The theorem bounds an expectation over prompts of a model drawn by training, so seeds are the
    independent units: with S >= 2 seeds the interval is a t interval over the S per-seed means (S -
    1 dof); their variance holds both the training spread and the prompt noise, and is floored at
    the prompt noise alone (mean sd^2 / n), so S identical means never give a zero-width interval.
    Pooling all prompts of all seeds as independent would ignore the training spread and undercover.
    With one seed the interval is over that seed's prompts (n - 1 dof), i.e. about that one model
    only."""
    m = np.array([t[0] for t in per_seed], dtype=float)
    sd = np.array([t[1] for t in per_seed], dtype=float)
    n = int(min(t[2] for t in per_seed))
    S = len(m)
    mean = float(m.mean())
    if S >= 2:
        var, dof = max(float(m.var(ddof=1)), float(np.mean(sd**2)) / max(n, 1)), S - 1
        se = math.sqrt(var / S)
    else:
        se, dof = float(sd[0]) / math.sqrt(max(n, 1)), max(n - 1, 1)
    t = float(stats.t.ppf(confidence, dof))
    # the resolution of S x n prompts: all of them at 0 loss bound the mean only to ~3 / (S n)
    # hinge units (zero_count_bound), so identical zero losses never give a zero-width interval
    se = max(se if math.isfinite(se) else 0.0, zero_count_bound(S * n, confidence) / t)
    half = t * se
    lo, hi = mean - half, mean + half
    p = float(stats.t.sf((mean - eps) / se, dof))
    return MeanPointBound(mean, lo, hi, p, se, dof, S, n)


@dataclass(frozen=True)
class MeanBoundDecision(BoundDecision):
    """The bound rule on continuous means (`mean_bound_decision`); points are MeanPointBound."""


def mean_bound_decision(
    points: Sequence[Sequence[tuple[float, float, int]]],
    eps: float,
    confidence: float = CONFIDENCE,
    alpha: float = SIGNIFICANCE,
) -> MeanBoundDecision:
    """The bound rule of `bound_decision` on continuous means (the hinge loss): per point, the
    per-seed (mean, sd, n) over prompts; bounds from `mean_point_bound`; Bonferroni over the points
    for REFUTED."""
    if not points:
        raise ValueError("mean_bound_decision needs at least one point")
    bounds = tuple(mean_point_bound(p, eps, confidence) for p in points)
    return MeanBoundDecision(*bound_rule(bounds, eps, alpha))
