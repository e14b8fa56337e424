"""Statistics behind verdicts (docs/verdicts.md), on SciPy.

- power-law fits on grid-point means of log y, t intervals with K - 2 dof;
- local slopes between neighbouring grid points (curvature diagnostic);
- `C x^b + c` fits where a claim allows an offset;
- one-sided Clopper-Pearson bounds for error counts, and the bound rule on them
  (`bound_decision`, shared by claim verdicts and fuzz outcomes); the same rule on a
  continuous mean such as the hinge loss is `harness.claims.mean_bound`;
- paired t intervals (comparisons by seed), one-sided rank trend tests;
- Holm and Benjamini-Hochberg adjustment across a run's claims.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

SIGNIFICANCE = 0.05  # a refutation needs p below this (before family-wise adjustment)
CONFIDENCE = 0.95  # one-sided Clopper-Pearson bounds of the bound rule


@dataclass
class RateFit:
    exponent: float
    intercept: float
    se: float
    dof: int
    k_points: int
    ci90: tuple[float, float]
    ci95: tuple[float, float]
    local_slopes: list[float] = field(default_factory=list)
    offset: float | None = None  # c of C x^b + c when fitted

    def ci(self, level: float) -> tuple[float, float]:
        if self.dof <= 0 or not math.isfinite(self.se):
            return (-math.inf, math.inf)
        t = stats.t.ppf(0.5 + level / 2, self.dof)
        return (self.exponent - t * self.se, self.exponent + t * self.se)


def fit_power_law(x: np.ndarray, mean_log_y: np.ndarray) -> RateFit:
    """OLS of mean log y on log x over K grid points; t interval with K - 2 dof."""
    lx = np.log(np.asarray(x, dtype=float))
    ly = np.asarray(mean_log_y, dtype=float)
    K = len(lx)
    if K < 2:
        raise ValueError(f"a rate fit needs at least 2 grid points, got {K}")
    res = stats.linregress(lx, ly)
    dof = K - 2
    se = float(res.stderr) if dof > 0 else math.inf
    order = np.argsort(lx)
    slopes = [
        float((ly[order][i + 1] - ly[order][i]) / (lx[order][i + 1] - lx[order][i]))
        for i in range(K - 1)
    ]
    fit = RateFit(
        float(res.slope), float(res.intercept), se, dof, K, (0.0, 0.0), (0.0, 0.0), slopes
    )
    fit.ci90, fit.ci95 = fit.ci(0.90), fit.ci(0.95)
    return fit


def fit_power_law_offset(x: np.ndarray, y: np.ndarray) -> RateFit:
    """Nonlinear least squares of y = C x^b + c on grid-point (geometric) means;
    interval from the covariance with K - 3 dof."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    K = len(x)
    if K < 4:
        raise ValueError(f"a fit with an offset needs at least 4 grid points, got {K}")
    base = fit_power_law(x, np.log(y))
    p0 = (math.exp(base.intercept), base.exponent, 0.0)
    try:
        popt, pcov = optimize.curve_fit(lambda t, C, b, c: C * t**b + c, x, y, p0=p0, maxfev=20000)
        se = float(math.sqrt(pcov[1, 1])) if np.isfinite(pcov[1, 1]) else math.inf
    except (RuntimeError, ValueError):
        popt, se = (math.nan, math.nan, math.nan), math.inf
    fit = RateFit(
        float(popt[1]),
        float(popt[0]),
        se,
        K - 3,
        K,
        (0.0, 0.0),
        (0.0, 0.0),
        base.local_slopes,
        float(popt[2]),
    )
    fit.ci90, fit.ci95 = fit.ci(0.90), fit.ci(0.95)
    return fit


def rate_decision(fit: RateFit, b0: float, margin: float) -> tuple[str, float]:
    """(CONFIRMED | REFUTED | INCONCLUSIVE, p-value for refutation).

    A degenerate fit (zero or undefined standard error) is INCONCLUSIVE.

    CONFIRMED if the 90% interval lies inside [b0 - margin, b0 + margin];
    REFUTED if the 95% interval lies entirely outside it; p_refute is the
    two-sided t-test p-value against the nearer edge of the margin (1 inside).
    """
    lo, hi = b0 - margin, b0 + margin
    if not (math.isfinite(fit.se) and fit.se > 0):
        # a zero-residual fit (e.g. a discrete metric on few points) is no evidence
        return "INCONCLUSIVE", 1.0
    if fit.ci90[0] >= lo and fit.ci90[1] <= hi:
        return "CONFIRMED", 1.0
    p = 1.0
    if fit.dof > 0 and math.isfinite(fit.se) and fit.se > 0:
        if fit.exponent > hi:
            p = float(2 * stats.t.sf((fit.exponent - hi) / fit.se, fit.dof))
        elif fit.exponent < lo:
            p = float(2 * stats.t.sf((lo - fit.exponent) / fit.se, fit.dof))
    outside = fit.ci95[0] > hi or fit.ci95[1] < lo
    return ("REFUTED" if outside else "INCONCLUSIVE"), (min(p, 1.0) if outside else max(p, 0.0))


LIMITS = ("lower", "upper")  # which side a sufficient-form rate prediction limits


def rate_decision_sufficient(
    fit: RateFit, b0: float, margin: float, limit: str = "lower"
) -> tuple[str, float]:
    """(CONFIRMED | REFUTED | INCONCLUSIVE, p_refute) for a *sufficient* condition y <= C x^b0:
    one-sided.

    limit "lower" (the theorem's scalings as x -> 0, e.g. iterations ~ alpha^(-2/3), l_ts ~
    1/alpha'): y may grow more slowly than x^b0 as x falls but not faster, i.e. b >= b0 - margin (b0
    is negative: a more negative b is steeper growth). CONFIRMED if the 90% interval's lower end is
    >= b0 - margin, REFUTED if the whole 95% interval is below it (p: one-sided t for b < b0 -
    margin). limit "upper" (scalings as x grows, e.g. iterations ~ beta^-2 for beta >= 1): b <= b0 +
    margin, mirrored. A degenerate fit is INCONCLUSIVE."""
    if limit not in LIMITS:
        raise ValueError(f"limit must be 'lower' or 'upper', got {limit!r}")
    if not (math.isfinite(fit.se) and fit.se > 0 and fit.dof > 0):
        return "INCONCLUSIVE", 1.0
    if limit == "lower":
        edge = b0 - margin
        ok, bad, p = (
            fit.ci90[0] >= edge,
            fit.ci95[1] < edge,
            float(stats.t.cdf((fit.exponent - edge) / fit.se, fit.dof)),
        )
    else:
        edge = b0 + margin
        ok, bad, p = (
            fit.ci90[1] <= edge,
            fit.ci95[0] > edge,
            float(stats.t.sf((fit.exponent - edge) / fit.se, fit.dof)),
        )
    if ok:
        return "CONFIRMED", 1.0
    return ("REFUTED", p) if bad else ("INCONCLUSIVE", 1.0)


def points_needed(fit: RateFit, margin: float, x: np.ndarray) -> int | None:
    """Rough number of grid points (same spread of log x, same scatter) at which
    the 90% interval's half-width would shrink to the margin; None if never."""
    if fit.dof <= 0 or not math.isfinite(fit.se) or fit.se == 0:
        return None
    lx = np.log(np.asarray(x, dtype=float))
    sxx_per_point = float(np.var(lx))
    resid_sd = fit.se * math.sqrt(len(lx) * sxx_per_point)
    for K in range(fit.k_points, 2000):
        half = stats.t.ppf(0.95, K - 2) * resid_sd / math.sqrt(K * sxx_per_point)
        if half <= margin:
            return K
    return None


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """One-sided Clopper-Pearson bounds: (lower, upper) each at `level`."""
    if n <= 0:
        return (0.0, 1.0)
    a = 1.0 - level
    lower = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    upper = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lower, upper


def binomial_p_above(k: int, n: int, eps: float) -> float:
    """One-sided exact p-value for H0: rate <= eps against rate > eps."""
    return float(stats.binom.sf(k - 1, n, eps)) if k > 0 else 1.0


@dataclass(frozen=True)
class PointBound:
    """Error count at one point with its one-sided Clopper-Pearson bounds and the exact p-value for
    rate > eps."""

    errors: int
    n: int
    lower: float
    upper: float
    p_above: float

    @property
    def rate(self) -> float:
        return self.errors / self.n if self.n else math.nan


@dataclass(frozen=True)
class BoundDecision:
    """The bound rule's verdict over a set of points, with its numbers."""

    verdict: str  # CONFIRMED | REFUTED | INCONCLUSIVE
    points: tuple[PointBound, ...]
    p_refute: float  # Bonferroni over the points of the smallest p_above (1.0 unless REFUTED)

    @property
    def worst(self) -> PointBound:
        """The point with the highest upper bound."""
        return max(self.points, key=lambda t: t.upper)

    @property
    def upper(self) -> float:
        return self.worst.upper

    @property
    def lower(self) -> float:
        return max(t.lower for t in self.points)


def bound_decision(
    counts: Sequence[tuple[int, int]],
    eps: float,
    confidence: float = CONFIDENCE,
    alpha: float = SIGNIFICANCE,
) -> BoundDecision:
    """The bound rule (docs/verdicts.md) on (errors, n) per point: CONFIRMED if every one-sided CP
    upper bound is <= eps; REFUTED if some lower bound is > eps and the exact binomial test
    (Bonferroni over the points) rejects rate <= eps at `alpha`; INCONCLUSIVE otherwise."""
    if not counts:
        raise ValueError("bound_decision needs at least one (errors, n) count")
    points = tuple(
        PointBound(k, n, *clopper_pearson(k, n, confidence), binomial_p_above(k, n, eps))
        for k, n in counts
    )
    return BoundDecision(*bound_rule(points, eps, alpha))


def bound_rule(points: tuple, eps: float, alpha: float) -> tuple[str, tuple, float]:
    """CONFIRMED if every upper bound is <= eps; REFUTED if some lower bound is > eps and the
    smallest p_above, Bonferroni over the points, is < alpha; else INCONCLUSIVE. (verdict, points,
    p_refute)."""
    p = min(1.0, min(t.p_above for t in points) * len(points))
    if all(t.upper <= eps for t in points):
        verdict = "CONFIRMED"
    elif any(t.lower > eps for t in points) and p < alpha:
        verdict = "REFUTED"
    else:
        verdict = "INCONCLUSIVE"
    return verdict, points, p if verdict == "REFUTED" else 1.0


@dataclass
class MeanInterval:
    mean: float
    lower: float  # one-sided lower bound at `level`
    upper: float  # one-sided upper bound at `level`
    n: int
    sd: float
    level: float
    se: float | None = None  # the standard error the bounds use, where not sd / sqrt(n)

    @property
    def standard_error(self) -> float:
        return self.se if self.se is not None else self.sd / math.sqrt(max(self.n, 1))


def mean_interval(values: np.ndarray, level: float = 0.95) -> MeanInterval:
    """Mean with one-sided t bounds (each at `level`); degenerate when n < 2."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    m = float(v.mean()) if n else math.nan
    if n < 2:
        return MeanInterval(m, -math.inf, math.inf, n, math.nan, level)
    sd = float(v.std(ddof=1))
    t = stats.t.ppf(level, n - 1)
    half = t * sd / math.sqrt(n)
    return MeanInterval(m, m - half, m + half, n, sd, level)


def zero_count_bound(n_total: int, confidence: float = CONFIDENCE) -> float:
    """The one-sided Clopper-Pearson upper bound of a rate with 0 events in `n_total` trials, 1 -
    (1 - confidence)^(1/n) (about 3 / n at 95%): the resolution of a rate measured on n prompts. A
    measurement on finite prompts cannot tell a rate (or a hinge loss, in its units) closer to 0
    than this, so no interval on one is narrower."""
    return 1.0 - (1.0 - confidence) ** (1.0 / max(int(n_total), 1))


@dataclass(frozen=True)
class Noisy:
    """A mean over S runs whose every value is itself measured on prompts: the run-to-run values,
    the prompt variance of their mean (sum of each value's prompt variance over S^2; None when
    the values carry no prompt noise, e.g. a weight probe) and the resolution floor of the
    interval's half-width (zero_count_bound of the prompts behind one arm; 0 when none)."""

    values: np.ndarray
    prompt_var: float | None = None
    resolution: float = 0.0


def noisy_interval(x: Noisy, level: float = 0.95) -> MeanInterval:
    """Mean with one-sided bounds at `level` that respect the prompt noise: the half-width is the
    largest of the between-run t half-width (S - 1 dof), the prompt noise of the mean (the same t
    quantile times its standard error) and the resolution floor. With no prompt noise and no
    spread between the runs there is nothing to bound a mean by, and the bounds are infinite
    (never a zero-width interval from finite data)."""
    v = np.asarray(x.values, dtype=float)
    n = len(v)
    m = float(v.mean()) if n else math.nan
    if n < 2:
        return MeanInterval(m, -math.inf, math.inf, n, math.nan, level)
    sd = float(v.std(ddof=1))
    se = max(sd / math.sqrt(n), math.sqrt(x.prompt_var or 0.0))
    t = float(stats.t.ppf(level, n - 1))
    half = max(t * se, x.resolution)
    if half <= 0:
        return MeanInterval(m, -math.inf, math.inf, n, sd, level, math.inf)
    return MeanInterval(m, m - half, m + half, n, sd, level, half / t)


def noisy_p_value(x: Noisy, threshold: float, alternative: str, level: float = 0.95) -> float:
    """One-sided p-value of the mean against `threshold` ('greater' or 'less') on the standard
    error `noisy_interval` uses (so a refutation rests on the same floor as the interval)."""
    mi = noisy_interval(x, level)
    se = mi.standard_error
    if mi.n < 2 or not math.isfinite(se) or se <= 0:
        return 1.0
    z = (mi.mean - threshold) / se
    return float(stats.t.sf(z, mi.n - 1) if alternative == "greater" else stats.t.cdf(z, mi.n - 1))


def mean_p_value(values: np.ndarray, threshold: float, alternative: str) -> float:
    """One-sided one-sample t p-value of mean vs threshold ('greater' or 'less')."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return 1.0
    if float(v.std(ddof=1)) == 0.0:
        m = float(v.mean())
        return 0.0 if (m > threshold if alternative == "greater" else m < threshold) else 1.0
    return float(stats.ttest_1samp(v, threshold, alternative=alternative).pvalue)


def trend_test(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Spearman rho over all (x, y) observations and one-sided p-values
    (p_increasing, p_decreasing). Replicates are independent runs."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(np.unique(x)) < 2 or len(x) < 3:
        return math.nan, 1.0, 1.0
    if float(np.std(y)) == 0.0:
        return 0.0, 1.0, 1.0
    p_inc = float(stats.spearmanr(x, y, alternative="greater").pvalue)
    p_dec = float(stats.spearmanr(x, y, alternative="less").pvalue)
    rho = float(stats.spearmanr(x, y).statistic)
    return rho, p_inc, p_dec


def holm(pvalues: list[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adj = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adj[i] = running
    return adj


def benjamini_hochberg(pvalues: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i], reverse=True)
    adj = [1.0] * m
    running = 1.0
    for rank, i in enumerate(order):
        running = min(running, pvalues[i] * m / (m - rank))
        adj[i] = min(1.0, running)
    return adj
