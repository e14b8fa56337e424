"""Statistics that read a sweep: where each replicate's error crosses eps, and the bound verdict of
pooled counts.

The crossing is found per replicate by linear interpolation between neighbouring grid points; its
interval is a t interval over replicates (the replicate is the unit, as in docs/verdicts.md; no
bootstrap). Pooled counts are judged by the claims engine's bound rule
(harness.claims.stats.bound_decision, via DomainResult)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

from harness.fuzz.outcomes import DomainResult, Outcome
from harness.fuzz.profiles import CONFIDENCE, EPS


def fmt(v: Any, spec: str = ".3g") -> str:
    """A number for report text: '-' for None, non-finite floats spelled out."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec) if math.isfinite(v) else str(v)
    return str(v)


@dataclass(frozen=True)
class PooledCount:
    """Errors and prompts of one domain pooled over outcomes, their one-sided CP bounds and the
    bound verdict."""

    errors: int
    n: int
    lower: float
    upper: float
    verdict: str  # CONFIRMED | REFUTED | INCONCLUSIVE | ERROR (some outcome failed)

    def as_list(self) -> list[Any]:
        """[errors, n, cp_lower, cp_upper, verdict], as summary.json stores it."""
        return [self.errors, self.n, self.lower, self.upper, self.verdict]

    def text(self) -> str:
        return f"{self.errors}/{self.n} [{self.lower:.3f}, {self.upper:.3f}]"


def pooled_verdict(outs: Sequence[Outcome], dom: str, eps: float) -> PooledCount:
    """The bound rule on one domain's counts pooled over outcomes (ERROR if any of them failed)."""
    res = DomainResult(
        sum(o.result(dom).errors for o in outs), sum(o.result(dom).n for o in outs), eps
    )
    lo, hi = res.bounds
    return PooledCount(res.errors, res.n, lo, hi, res.verdict(any(o.failed for o in outs)))


def crossing_point(x: Sequence[float], err: Sequence[float], eps: float = EPS) -> tuple[float, str]:
    """Where a replicate's error first rises above eps along x (in order of growing violation).

    Linear interpolation between the last point at or below eps and the first above it.
    Returns (value, censoring): "" observed; "left" already above eps at x[0] (value x[0]);
    "right" never above eps on the grid (value x[-1]).
    """
    if len(x) != len(err) or not len(x):
        raise ValueError("crossing_point needs equally long, non-empty x and err")
    for i, e in enumerate(err):
        if e > eps:
            if i == 0:
                return float(x[0]), "left"
            x0, x1, e0, e1 = x[i - 1], x[i], err[i - 1], err[i]
            return float(x0 + (eps - e0) * (x1 - x0) / (e1 - e0)), ""
    return float(x[-1]), "right"


@dataclass
class Crossing:
    """The eps crossing over replicates: per-replicate values and censoring, mean and t interval."""

    values: list[float]  # per replicate
    censoring: list[str]
    mean: float
    lower: float  # two-sided `level` t interval over replicates (nan when not defined)
    upper: float
    level: float
    # per replicate: the grid cell (x_before, x_after) of an observed crossing
    brackets: list = field(default_factory=list)

    @property
    def n_right(self) -> int:
        return self.censoring.count("right")

    @property
    def n_left(self) -> int:
        return self.censoring.count("left")

    def text(self, fmt: str = ".3g") -> str:
        R = len(self.values)
        if self.n_right == R:
            return f"none (error <= eps up to the grid's end, {R}/{R} replicates)"
        if self.n_left == R:
            return f"at or before the grid's start ({R}/{R} replicates)"
        if self.n_left or self.n_right:
            obs = [v for v, c in zip(self.values, self.censoring) if not c]
            parts = [f"observed {', '.join(format(v, fmt) for v in obs)}" if obs else ""]
            if self.n_right:
                parts.append(f"{self.n_right}/{R} beyond the grid")
            if self.n_left:
                parts.append(f"{self.n_left}/{R} before the grid's start")
            return "; ".join(p for p in parts if p) + " (censored: no interval)"
        if not math.isfinite(self.lower):
            return f"{self.mean:{fmt}} (one replicate, no interval)"
        cells = {tuple(b) for b in self.brackets if b}
        note = ""
        if len(cells) == 1 and len(self.brackets) == R and all(self.brackets):
            ((a, b),) = cells
            note = (
                f" (all {R} in the grid cell {a:{fmt}}..{b:{fmt}}: the interval reflects "
                "interpolation, the grid limits resolution)"
            )
        return f"{self.mean:{fmt}} [{self.lower:{fmt}}, {self.upper:{fmt}}]{note}"


def crossing_summary(
    values: Sequence[float],
    censoring: Sequence[str],
    level: float = CONFIDENCE,
    brackets: Sequence[tuple[float, float] | None] | None = None,
) -> Crossing:
    """Mean crossing over replicates with a two-sided t interval (n - 1 dof); none if any replicate
    is censored."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    mean = float(v.mean()) if n else math.nan
    lo = hi = math.nan
    if n >= 2 and not any(censoring):
        sd = float(v.std(ddof=1))
        half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
        lo, hi = mean - half, mean + half
    return Crossing(list(map(float, v)), list(censoring), mean, lo, hi, level, list(brackets or []))
