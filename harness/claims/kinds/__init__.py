"""Claim kinds, one registered object each (rate, bound, comparison, trend, threshold): see
kinds.base."""

from harness.claims.kinds import bound, comparison, rate, threshold, trend  # noqa: F401  (each registers its kind)
from harness.claims.kinds.base import KINDS, ClaimKind

__all__ = ["KINDS", "ClaimKind"]
