"""The prompt noise of a claim's measurements, for intervals that respect it.

An error rate measured on n test prompts is uncertain by about sqrt(p (1 - p) / n), a hinge loss
by sd / sqrt(n), even when every seed gives the same value; and 0 errors in n prompts bound a rate
only to about 3 / n. `noisy_mean` (thresholds) and `noisy_difference` (comparisons) turn rows into
`stats.Noisy`, so the interval over seeds is never narrower than the prompt noise or that floor
(`stats.noisy_interval`). Metrics that are not measured on prompts (weight probes) carry no prompt
noise: their interval is the spread over seeds alone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.claims import stats
from harness.claims.metrics import Row


def row_variance(r: Row) -> float | None:
    """The prompt variance of one row's value (None when it is not measured on prompts)."""
    if r.n and r.k is not None:
        p = r.k / r.n
        return p * (1.0 - p) / r.n
    if r.n and r.sd is not None:
        return float(r.sd) ** 2 / r.n
    return None


def _prompts(rows: Sequence[Row]) -> int:
    return sum(int(r.n or 0) for r in rows if row_variance(r) is not None)


def noisy_mean(rows: Sequence[Row]) -> stats.Noisy:
    """The rows' values with the prompt variance of their mean and the resolution of their
    prompts."""
    values = np.array([r.value for r in rows], dtype=float)
    var = [row_variance(r) for r in rows]
    if not rows or any(v is None for v in var):
        return stats.Noisy(values)
    n = len(rows)
    return stats.Noisy(
        values,
        sum(var) / n**2,
        stats.zero_count_bound(_prompts(rows)),  # type: ignore[arg-type]
    )


def noisy_difference(pairs: Sequence[tuple[Row, Row]]) -> stats.Noisy:
    """The paired differences a - b with the prompt variance of their mean (the two arms' prompt
    variances added: conservative, since paired prompts correlate the arms) and the resolution of
    one arm's prompts (two arms each at 0 of N are each within [0, 3/N], their difference within
    +-3/N)."""
    values = np.array([a.value - b.value for a, b in pairs], dtype=float)
    var = [(row_variance(a), row_variance(b)) for a, b in pairs]
    if not pairs or any(va is None or vb is None for va, vb in var):
        return stats.Noisy(values)
    n = len(pairs)
    total = sum(va + vb for va, vb in var)  # type: ignore[operator]
    arm = min(_prompts([a for a, _ in pairs]), _prompts([b for _, b in pairs]))
    return stats.Noisy(values, total / n**2, stats.zero_count_bound(arm))
