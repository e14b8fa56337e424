"""The verdict of one claim, with its numbers as fields (estimate, interval, standard error, p, n).

Reports, compare and the nightly drift check read these fields; the prose
(`prediction`, `measurement`, `over`) is for people and is never parsed back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("CONFIRMED", "REFUTED", "INCONCLUSIVE", "ERROR")


@dataclass
class Estimate:
    """The number a verdict rests on: e.g. the fitted exponent, the worst point's error rate, the
    mean paired difference, Spearman's rho or a mean, with its interval at `level` and its standard
    error."""

    name: str
    value: float
    lower: float
    upper: float
    level: float  # confidence of [lower, upper]: two-sided for rates, one-sided bounds otherwise
    se: float  # standard error of `value` (nan where none applies): the drift z-score's denominator
    n: int  # observations behind it

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Estimate:
        return cls(
            str(d["name"]),
            *(float(d[k]) for k in ("value", "lower", "upper", "level", "se")),
            int(d["n"]),
        )

    def drift_z(self, other: Estimate) -> float:
        """How far `other` moved from this estimate, in combined standard errors (nan when either
        has none)."""
        s = math.hypot(self.se, other.se)
        return (other.value - self.value) / s if math.isfinite(s) and s > 0 else math.nan


@dataclass
class Verdict:
    claim_id: str
    source: str
    statement: str
    kind: str
    profile: str
    verdict: str
    prediction: str  # the prediction, in words
    measurement: str  # the measurement beside it, in words
    over: str  # what the interval is over
    n_points: int
    n_replicates: int
    p_refute: float = 1.0
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    expected: tuple[str, str] | None = None
    paper_trend: str = ""
    estimate: Estimate | None = None  # None for ERROR
    predicted: dict[str, Any] = field(default_factory=dict)  # the claim file's [prediction] numbers
    metric: str = ""  # the claim's metric name (figures read its scale from the metric registry)
    # digest of the analysis plan this verdict was judged under (harness.claims.plan)
    plan_digest: str = ""
    # that plan's fields, so a later ledger can name what changed
    plan: dict[str, Any] = field(default_factory=dict)
    # the claim file's [[changes]] log
    plan_changes: list[dict[str, str]] = field(default_factory=list)

    def line(self) -> str:
        """One line: claim, verdict, prediction beside measurement."""
        return (
            f"{self.claim_id}: {self.verdict} | predicted {self.prediction} | measured "
            f"{self.measurement} | over {self.over}"
        )
