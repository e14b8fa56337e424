"""The verdict of one claim, with its numbers as fields (estimate, interval, standard error, p, n).

A `Verdict` is frozen: the claim's kind builds it, and each later step (the judge adding the plan,
the family-wise control, the runner's sharing counts) returns a new one with its result as a typed
field (`family`, `expected`, `matches_expectation`). Reports, compare and the nightly drift check
read these fields; the prose (`prediction`, `measurement`, `over`, `notes`) is for people and is
never parsed back."""

from __future__ import annotations

import dataclasses
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
class ControlResult:
    """The claim's control (harness.claims.control) judged under the claim's own prediction:
    whether it met the prediction too (then the claim could not have failed, and a CONFIRMED is
    reported as vacuous), with its measurement and what would make the experiment able to fail."""

    name: str  # init, random-rows, flat, or a claim file's own
    change: str  # what the control changes, in words
    why: str  # why the prediction must fail under it
    verdict: str  # the control's verdict (flat: MOVES or FLAT)
    met: bool  # the control meets the prediction as well
    measurement: str
    remedy: str  # what would let the experiment fail, if it cannot
    estimate: Estimate | None = None
    declared: bool = False  # the claim file's own, not its kind's default

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ControlResult:
        est = d.get("estimate")
        kw = {f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d}
        kw["estimate"] = Estimate.from_dict(est) if isinstance(est, dict) else None
        return cls(**kw)

    def line(self) -> str:
        """One line: the control, its verdict and its measurement."""
        met = "meets the prediction too" if self.met else "does not meet the prediction"
        return f"control {self.name} ({self.change}): {self.verdict}, {met}; {self.measurement}"


@dataclass(frozen=True)
class WorldLevel:
    """One world of a mixture factor: its level, the seeds that drew it, their mean metric, and
    its own verdict where the claim judges each world apart (`[metric] worlds = "each"`)."""

    level: str
    seeds: int
    mean: float
    verdict: str = ""  # "" when the seeds were judged pooled


@dataclass(frozen=True)
class WorldSplit:
    """How a claim's seeds split by a mixture factor (harness.world.mixtures): a mean over seeds
    of different worlds is a mixture, and the report says so."""

    factor: str
    levels: tuple[WorldLevel, ...]
    judged: str = "pooled"  # the reading `[metric] worlds`: "pooled" or "each"

    def note(self) -> str:
        n = len(self.levels)
        if self.judged == "each":
            parts = ", ".join(
                f"{w.seeds} seeds {w.level!r} {w.verdict} (mean {w.mean:.3g})" for w in self.levels
            )
            return f"worlds judged apart: the seeds fall into {n} worlds of {self.factor}: {parts}"
        parts = ", ".join(f"{w.seeds} seeds {w.level!r} (mean {w.mean:.3g})" for w in self.levels)
        return (
            f"mixture: the seeds fall into {n} worlds of {self.factor}: {parts}; "
            "a mean over all seeds mixes them"
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorldSplit:
        levels = tuple(WorldLevel(**w) for w in d["levels"])
        return cls(str(d["factor"]), levels, str(d.get("judged", "pooled")))


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
    # digest of the analysis plan this verdict was judged under (harness.claims.analysis_plan)
    plan_digest: str = ""
    # that plan's fields, so a later ledger can name what changed
    plan: dict[str, Any] = field(default_factory=dict)
    # the claim file's [[changes]] log
    plan_changes: list[dict[str, str]] = field(default_factory=list)
    family: FamilyResult | None = None  # the family-wise control, once the run applied it
    control: ControlResult | None = None  # the control beside the claim, once the run judged it
    # a CONFIRMED whose control met the prediction too: reported INCONCLUSIVE, as vacuous
    vacuous: bool = False
    # the smallest effect the design could show (the interval's half-width, in metric units)
    detectable: float = math.nan
    # the named regime the claim ran under (harness.claims.regime)
    regime: str = "default"
    # how the seeds split by a mixture factor, where they fall into more than one world
    world_split: WorldSplit | None = None

    @property
    def matches_expectation(self) -> bool:
        """Whether the claim file's [expected] table names this verdict (a known, reasoned
        outcome: it does not make a run red)."""
        return bool(self.expected) and self.expected[0] == self.verdict

    def to_json(self) -> dict[str, Any]:
        """The verdict as verdicts.json stores it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any], **extra: Any) -> Verdict:
        """A stored verdict (verdicts.json) as an object again: the one way back from disk. Fields a
        run of older code did not write take their defaults; keys this code does not know are
        ignored. `extra` sets fields of a subclass (a stored verdict's figures, say)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw: dict[str, Any] = {k: v for k, v in d.items() if k in names}
        for k, default in (("source", ""), ("statement", ""), ("kind", ""), ("profile", "")):
            kw.setdefault(k, default)
        kw.setdefault("n_points", 0)
        kw.setdefault("n_replicates", 0)
        p = kw.get("p_refute")
        kw["p_refute"] = float(p) if isinstance(p, (int, float)) else 1.0
        est = d.get("estimate")
        try:
            kw["estimate"] = Estimate.from_dict(est) if isinstance(est, dict) else None
        except (KeyError, TypeError, ValueError):
            kw["estimate"] = None
        fam = d.get("family")
        kw["family"] = FamilyResult(**fam) if isinstance(fam, dict) else None
        ctl = d.get("control")
        try:
            kw["control"] = ControlResult.from_dict(ctl) if isinstance(ctl, dict) else None
        except (KeyError, TypeError, ValueError):
            kw["control"] = None
        ws = d.get("world_split")
        try:
            kw["world_split"] = WorldSplit.from_dict(ws) if isinstance(ws, dict) else None
        except (KeyError, TypeError, ValueError):
            kw["world_split"] = None
        det = d.get("detectable")
        kw["detectable"] = float(det) if isinstance(det, (int, float)) else math.nan
        exp = d.get("expected")
        kw["expected"] = (str(exp[0]), str(exp[1])) if exp else None
        kw["notes"] = [str(n) for n in d.get("notes") or []]
        return cls(**{**kw, **extra})

    def line(self) -> str:
        """One line: claim, verdict, prediction beside measurement."""
        return (
            f"{self.claim_id}: {self.verdict} | predicted {self.prediction} | measured "
            f"{self.measurement} | over {self.over}"
        )
