"""The record of a measured assumption: one `Check` (margin, severity) and the `AssumptionReport`
of a configuration, with the names of the theory's and the regime's checks (harness.fuzz.assumptions
measures them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TOL = 1e-9  # a margin above this is a violation (measured cosines carry ~1e-16 rounding)

ID, OOD = "id", "ood"
BOTH = frozenset({ID, OOD})
OOD_ONLY = frozenset({OOD})


@dataclass(frozen=True)
class Check:
    """One assumption measured on one configuration."""

    name: str
    kind: str  # "theory" | "regime"
    domains: frozenset  # claims it is an assumption of: {"id", "ood"} or {"ood"}
    statement: str
    value: float  # the measured quantity
    bound: float  # the bound it is compared with
    margin: float  # <= 0 holds (slack), > 0 violated by that much
    scale: float  # margin / scale = severity

    @property
    def violated(self) -> bool:
        return self.margin > TOL

    @property
    def severity(self) -> float:
        return self.margin / self.scale

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "domains": sorted(self.domains),
            "statement": self.statement,
            "value": self.value,
            "bound": self.bound,
            "margin": self.margin,
            "severity": self.severity,
            "violated": self.violated,
        }


@dataclass
class AssumptionReport:
    checks: list[Check]
    max_coherence: float  # largest |cosine| among all M1 + M2 in-domain patterns
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def names(self) -> list[str]:
        return [c.name for c in self.checks]

    def violated(self, domain: str | None = None, kind: str | None = None) -> list[Check]:
        """Violated checks, optionally only those of a claim's domain ("id"/"ood") or of one
        kind."""
        return [
            c
            for c in self.checks
            if c.violated
            and (domain is None or domain in c.domains)
            and (kind is None or c.kind == kind)
        ]

    def holds(self, domain: str, kind: str | None = None) -> bool:
        return not self.violated(domain, kind)

    def severity(self, domain: str | None = None, kind: str | None = None) -> float:
        """Sum of the positive severities (0 when nothing is violated)."""
        return float(sum(c.severity for c in self.violated(domain, kind)))

    def margins(self) -> dict[str, float]:
        return {c.name: c.margin for c in self.checks}

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_coherence": self.max_coherence,
            "checks": [c.to_dict() for c in self.checks],
            "violated": {d: [c.name for c in self.violated(d)] for d in (ID, OOD)},
            "violated_theory": {d: [c.name for c in self.violated(d, "theory")] for d in (ID, OOD)},
            "severity": {d: self.severity(d) for d in (ID, OOD)},
            **self.extra,
        }


THEORY_CHECKS = (
    "orthogonal_idr",
    "orthogonal_idi",
    "orthogonal_cross",
    "beta_at_least_1",
    "equal_norms",
    "K_at_most_half",
    "no_noise",
    "uniform_coverage",
    "coverage_size",
    "alpha_range",
    "context_length",
    "S1_at_least_1",
    "odi_in_span",
    "K_ood_at_most_half",
)
REGIME_CHECKS = (
    "regime_task_shortcut",
    "regime_test_context",
    "regime_alpha_shift",
    "regime_iterations",
    "regime_S1",
    "regime_coef_sign",
)


def describe(checks: list[Check]) -> str:
    """'name +margin, ...' for a table cell."""
    if not checks:
        return "none"
    return ", ".join(f"{c.name} (+{c.margin:.3g})" for c in checks)
