"""The registry of kind figures (a claim kind's name -> its drawer) and what every drawer shares:
the colours, the title with the control, the proportion clip. Drawers register from
harness.report.kind_figures or from their own module (harness.report.figure_reproduction)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

from harness.claims.metrics import METRICS
from harness.claims.verdict import Verdict
from harness.core.registry import Registry

Drawer = Callable[[Verdict, Path], "Path | None"]
KIND_FIGURES: Registry[Drawer] = Registry("kind figure")
CLAIM_COLOR, MEASURED_COLOR = "C3", "C0"  # the claim's eps / threshold / margin; our measurement


def proportion_clip(v: Verdict) -> tuple[float, float] | None:
    """(0, 1) when the verdict's metric is a proportion (an error rate, an attention mass), else
    None."""
    return (0.0, 1.0) if v.metric in METRICS and METRICS.get(v.metric).proportion else None


def figure_title(v: Verdict, subtitle: str = "") -> str:
    """The claim and its outcome, the prediction, and the control beside it."""
    head = f"{v.claim_id}: {v.verdict}" + (" (vacuous)" if v.vacuous else "")
    c = v.control
    if c is not None:
        met = "meets the prediction too" if c.met else "does not meet the prediction"
        subtitle += f"\ncontrol {c.name}: {c.verdict}, {met}"
    lines = [textwrap.fill(part, 72, break_long_words=False) for part in subtitle.split("\n")]
    return head + ("\n" + "\n".join(lines) if subtitle else "")
