"""Claim kinds, one registered object each (rate, bound, comparison, trend, threshold, figure): see
kinds.base."""

from harness.claims.kinds import (  # noqa: F401  (each registers its kind)
    bound,
    comparison,
    figure,
    rate,
    threshold,
    trend,
)
from harness.claims.kinds.base import KINDS, ClaimKind

__all__ = ["KINDS", "ClaimKind"]
