"""The verdict of one claim, with its numbers as fields (estimate, interval, standard error, p, n).

A `Verdict` is frozen: the claim's kind builds it, and each later step (the judge adding the plan,
the family-wise control, the runner's sharing counts) returns a new one with its result as a typed
field (`family`, `expected`, `matches_expectation`). Reports, compare and the nightly drift check
read these fields; the prose (`prediction`, `measurement`, `over`, `notes`) is for people and is
never parsed back."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("CONFIRMED", "REFUTED", "INCONCLUSIVE", "ERROR")


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class FamilyResult:
    """The family-wise control of refutations across a run's claims (or one claim's multiverse):
    the method, the adjusted p-value, and whether it overturned a refutation."""

    method: str  # holm or bh
    p_adjusted: float
    alpha: float  # a refutation stands when p_adjusted < alpha
    overturned: bool  # a REFUTED verdict whose adjusted p is not below alpha: now INCONCLUSIVE

    def note(self, p_refute: float) -> str:
        """The reason an overturned refutation is INCONCLUSIVE, in words."""
        return (
            f"refutation p = {p_refute:.3g} does not survive {self.method} adjustment (adjusted "
            f"{self.p_adjusted:.3g})"
        )


@dataclass(frozen=True)
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
    family: FamilyResult | None = None  # the family-wise control, once the run applied it

    @property
    def matches_expectation(self) -> bool:
        """Whether the claim file's [expected] table names this verdict (a known, reasoned
        outcome: it does not make a run red)."""
        return bool(self.expected) and self.expected[0] == self.verdict

    def line(self) -> str:
        """One line: claim, verdict, prediction beside measurement."""
        return (
            f"{self.claim_id}: {self.verdict} | predicted {self.prediction} | measured "
            f"{self.measurement} | over {self.over}"
        )
