"""Small numbers every paper-comparison figure shares: the clip range of rates and masses and the
mean and standard deviation over seeds."""

from __future__ import annotations

import math

UNIT = (0.0, 1.0)  # error rates and attention masses: their intervals are clipped here


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of the finite values (nan, nan for none)."""
    v = [x for x in values if isinstance(x, (int, float)) and math.isfinite(x)]
    if not v:
        return math.nan, math.nan
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, sd
