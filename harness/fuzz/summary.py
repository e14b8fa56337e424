"""The robustness report's data: everything report.md and summary.json say, computed once from the
runs.

`summarise` turns sweep points, probes, the campaign and its minimal configurations into a
`RobustnessSummary`; harness.fuzz.render writes Markdown from it and `to_json` the stored summary.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from harness.fuzz.assumptions import ID, OOD
from harness.fuzz.axis_summary import AxisSummary, summarise_axis
from harness.fuzz.crossings import PooledCount, pooled_verdict
from harness.fuzz.outcomes import Outcome
from harness.fuzz.probes import TaskGraphRow
from harness.fuzz.profiles import ANCHOR, FuzzProfile
from harness.fuzz.ranking import Ranked, rank_axes
from harness.fuzz.sweep import SweepPoint
from harness.run.provenance import git_commit
from harness.world.config import DataConfig

# the axes whose crossings are the headline answers, with what their x measures
HEADLINE_AXES = (
    ("coherence_all", "max |cosine| among all patterns (all pairs bent together)"),
    ("coherence_rel", "max |cosine| among the IDR patterns"),
    ("noise", "noise norm / pattern norm"),
)


@dataclass
class Headline:
    """One claim against one headline axis: where it holds, where it breaks, where the error crosses
    eps."""

    axis: AxisSummary
    domain: str
    what: str


@dataclass
class ClaimRanking:
    """One claim's axes in the order their assumptions matter (rank_axes), and the hidden-constant
    axes."""

    domain: str
    ranked: list[Ranked]
    constants: list[Ranked]

    @property
    def first_at_budget(self) -> Ranked | None:
        """The first axis REFUTED at the profile's budget: while the assumption holds first, then by
        severity."""
        hits = sorted(
            [r for r in self.ranked if r.key[0] < 2], key=lambda r: (r.key[0] != 0, r.key[1])
        )
        return hits[0] if hits else None

    @property
    def breaking(self) -> list[Ranked]:
        return [r for r in self.ranked if r.breaks]

    @property
    def budget_limited(self) -> list[Ranked]:
        return [r for r in self.ranked if r.key[0] == 1.5]

    @property
    def quiet(self) -> list[Ranked]:
        return [r for r in self.ranked if r.key[0] >= 2]


@dataclass
class TaskGraphResult:
    row: TaskGraphRow
    pooled: PooledCount  # unseen-task (in-domain) counts pooled over replicates

    @property
    def mean_error(self) -> float:
        return float(np.mean([o.id.rate for o in self.row.outcomes]))


@dataclass
class MinimalConfig:
    """A clearly failing campaign configuration shrunk toward the anchor, the claim it breaks, and
    as first found."""

    outcome: Outcome
    domain: str
    original: Outcome | None


@dataclass
class ViolatedCount:
    configurations: int = 0
    broken_id: int = 0
    broken_ood: int = 0


@dataclass
class CampaignSummary:
    n: int
    broken: dict[str, int]  # domain -> configurations that break its claim
    unexplained: list[Outcome]  # broken with no theory assumption violated
    # sorted set of violated assumptions -> counts
    by_violated: dict[tuple[str, ...], ViolatedCount]


@dataclass
class RobustnessSummary:
    profile: FuzzProfile
    anchor: DataConfig
    axes: list[AxisSummary]
    headlines: list[Headline]
    claims: list[ClaimRanking]  # in-domain, OOD
    task_graph: list[TaskGraphResult]
    minimal: list[MinimalConfig]
    campaign: CampaignSummary | None
    wall_seconds: float | None = None
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    git_commit: str = ""

    @property
    def eps(self) -> float:
        return self.profile.eps

    @property
    def task_graph_refuted(self) -> list[TaskGraphResult]:
        return [t for t in self.task_graph if t.pooled.verdict == "REFUTED"]

    def to_json(self) -> dict[str, Any]:
        """summary.json without its rendered answers (harness.fuzz.render.answer_lines adds
        them)."""
        return {
            "created": self.created,
            "git_commit": self.git_commit,
            "profile": self.profile.name,
            "steps": self.profile.steps,
            "replicates": self.profile.replicates,
            "n_test": self.profile.n_test,
            "eps": self.eps,
            "wall_seconds": self.wall_seconds,
            "axes": {s.axis.name: _axis_json(s) for s in self.axes},
            "task_graph": [
                {
                    "shifts": list(t.row.shifts),
                    "n_train_tasks": t.row.n_train_tasks,
                    "shortcut": t.row.shortcut,
                    "alpha": t.row.alpha,
                    "id_error": [o.id.rate for o in t.row.outcomes],
                    "pooled": t.pooled.as_list(),
                }
                for t in self.task_graph
            ],
            "minimal": [
                {
                    "domain": m.domain,
                    "run": m.outcome.run.to_dict(),
                    "violated": [c.name for c in m.outcome.report.violated(m.domain)],
                    "id_error": m.outcome.id.rate,
                    "ood_error": m.outcome.ood.rate,
                }
                for m in self.minimal
            ],
        }


def _axis_json(s: AxisSummary) -> dict[str, Any]:
    return {
        "assumption": s.axis.assumption,
        "values": s.values,
        "x": s.x,
        "margins": s.margins,
        **{
            dom: {
                "crossing": dataclasses.asdict(s.crossing[dom]),
                "crossing_severity": dataclasses.asdict(s.crossing_severity[dom]),
                "holds_up_to": s.holds_up_to[dom],
                "breaks_from": s.breaks_from[dom],
                "error": s.err[dom].tolist(),
                "pooled": [p.as_list() for p in s.pooled[dom]],
            }
            for dom in (ID, OOD)
        },
    }


def summarise_campaign(campaign: list[Outcome]) -> CampaignSummary:
    counts: dict[tuple[str, ...], ViolatedCount] = {}
    for o in campaign:
        k = tuple(sorted({c.name for c in o.report.violated()})) or ("none",)
        c = counts.setdefault(k, ViolatedCount())
        c.configurations += 1
        c.broken_id += o.broke(ID)
        c.broken_ood += o.broke(OOD)
    return CampaignSummary(
        len(campaign),
        {d: sum(o.broke(d) for o in campaign) for d in (ID, OOD)},
        [o for o in campaign if o.unexplained("theory")],
        dict(sorted(counts.items())),
    )


def summarise(
    profile: FuzzProfile,
    points: list[SweepPoint],
    campaign: list[Outcome] | None = None,
    minimal: list[tuple[Outcome, str, Outcome | None]] | None = None,
    budget: list[SweepPoint] | None = None,
    task_graph: list[TaskGraphRow] | None = None,
    wall_seconds: float | None = None,
    anchor: DataConfig = ANCHOR,
) -> RobustnessSummary:
    """Every statistic the robustness report states, from the sweep, the probes and the campaign."""
    eps = profile.eps
    axes = [
        summarise_axis(ax, points, eps, budget)
        for ax in profile.axes
        if any(p.axis == ax.name for p in points)
    ]
    by = {s.axis.name: s for s in axes}
    headlines = [
        Headline(by[name], dom, what)
        for name, what in HEADLINE_AXES
        if name in by
        for dom in (ID, OOD)
    ]
    claims = [
        ClaimRanking(dom, rank_axes(axes, dom), rank_axes(axes, dom, "constant"))
        for dom in (ID, OOD)
    ]
    return RobustnessSummary(
        profile,
        anchor,
        axes,
        headlines,
        claims,
        [TaskGraphResult(r, pooled_verdict(r.outcomes, ID, eps)) for r in (task_graph or [])],
        [MinimalConfig(o, dom, orig) for o, dom, orig in (minimal or [])],
        summarise_campaign(campaign) if campaign else None,
        wall_seconds,
        git_commit=git_commit(),
    )
