"""The robustness report: summarise once (harness.fuzz.summary), then write report.md, summary.json
and the figures from it."""

from __future__ import annotations

import json
from pathlib import Path

from harness.core.jsonio import atomic_write_text, json_safe
from harness.fuzz.figures import write_figures
from harness.fuzz.outcomes import Outcome
from harness.fuzz.probes import TaskGraphRow
from harness.fuzz.profiles import ANCHOR, FuzzProfile
from harness.fuzz.render import answer_lines, render_markdown
from harness.fuzz.summary import summarise
from harness.fuzz.sweep import SweepPoint
from harness.world.config import DataConfig


def write_report(
    out: Path | str,
    profile: FuzzProfile,
    points: list[SweepPoint],
    campaign: list[Outcome] | None = None,
    minimal: list[tuple[Outcome, str, Outcome | None]] | None = None,
    wall_seconds: float | None = None,
    anchor: DataConfig = ANCHOR,
    budget: list[SweepPoint] | None = None,
    task_graph: list[TaskGraphRow] | None = None,
) -> Path:
    """report.md, summary.json, coherence.png, noise.png, other.png, alpha.png under `out`; returns
    report.md's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    s = summarise(profile, points, campaign, minimal, budget, task_graph, wall_seconds, anchor)
    figures = write_figures(s, out)
    atomic_write_text(out / "report.md", render_markdown(s, figures))
    data = {**s.to_json(), "answers": answer_lines(s)}
    atomic_write_text(out / "summary.json", json.dumps(json_safe(data), indent=1, sort_keys=True))
    return out / "report.md"
