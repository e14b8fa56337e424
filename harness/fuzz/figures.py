"""The robustness report's PNG figures: error against each bent assumption, per claim, from a
RobustnessSummary."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from harness.fuzz.assumptions import ID, OOD
from harness.fuzz.axis_summary import AxisSummary
from harness.fuzz.profiles import BUDGET_FACTOR
from harness.fuzz.summary import RobustnessSummary
from harness.report.plotting import new_panels, save_figure

PANELS = ((ID, "in-domain (unseen tasks)"), (OOD, "out-of-domain (S1 = 2 unless swept)"))


def _error_panels(
    path: Path, eps: float, xlabel: str, ylabel: str, suptitle: str, draw: Callable[..., None]
) -> Path:
    """Two panels (in-domain, OOD) of error on a symlog axis with the eps line; `draw(ax, domain)`
    adds the curves."""
    fig, axs = new_panels(2, (11, 4.2))
    for a, (dom, name) in zip(axs, PANELS):
        draw(a, dom)
        a.axhline(eps, color="k", ls="--", lw=1, label=f"eps = {eps:g}")
        a.set_title(name)
        a.set_xlabel(xlabel)
        a.set_yscale("symlog", linthresh=0.01)
        a.set_ylim(0, 1)
        a.grid(alpha=0.3)
    axs[0].set_ylabel(ylabel)
    axs[1].legend(fontsize=7, loc="upper left")
    fig.suptitle(suptitle, fontsize=9)
    return save_figure(fig, path)


def _plot_axes(
    sel: list[AxisSummary], path: Path, eps: float, xlabel: str, title: str
) -> Path | None:
    """Per-replicate errors (dots), their mean (line), the eps crossing and its interval, per swept
    axis."""
    if not sel:
        return None

    def draw(a, dom: str) -> None:
        for i, s in enumerate(sel):
            color = f"C{i}"
            xs, E = np.asarray(s.x), s.err[dom]
            for j in range(E.shape[1]):
                a.plot(xs, E[:, j], "o", ms=3, alpha=0.45, color=color)
            a.plot(
                xs, E.mean(axis=1), "-", color=color, label=f"{s.axis.name} (mean of {E.shape[1]})"
            )
            if s.budget is not None:
                a.plot(
                    s.budget.x,
                    s.budget.err[dom].mean(axis=1),
                    "--",
                    color=color,
                    lw=1,
                    label=f"{s.axis.name}, {BUDGET_FACTOR}x steps "
                    f"(mean of {s.budget.err[dom].shape[1]})",
                )
            c = s.crossing[dom]
            if not (c.n_left or c.n_right):
                # in axis-value units: for the coherence axes (no norm jitter) the value is the
                # measured max coherence
                if math.isfinite(c.lower):
                    a.axvspan(c.lower, c.upper, color=color, alpha=0.12)
                a.axvline(c.mean, color=color, ls=":", lw=1)

    return _error_panels(
        path,
        eps,
        xlabel,
        "test error (per replicate: dots; mean: line)",
        title + " (shaded: 95% t interval of the eps crossing over replicates; dashed: more steps)",
        draw,
    )


def _plot_other(summaries: list[AxisSummary], path: Path, eps: float) -> Path | None:
    """Mean error against the severity of each bent assumption (the non-coherence, non-noise
    axes)."""
    sel = [s for s in summaries if s.axis.group == "other" and s.axis.role == "assumption"]
    if not sel:
        return None

    def draw(a, dom: str) -> None:
        for i, s in enumerate(sel):
            a.plot(
                np.asarray(s.severities),
                s.err[dom].mean(axis=1),
                "o-",
                ms=3,
                color=f"C{i}",
                label=f"{s.axis.name} ({s.axis.assumption})",
            )
        a.axvline(0.0, color="grey", ls=":", lw=1)

    return _error_panels(
        path,
        eps,
        "severity of the bent assumption (margin / scale; > 0 violated)",
        "mean test error over replicates",
        "Other assumptions: error against how far each is bent (left of the dotted line: the "
        "assumption still holds)",
        draw,
    )


def write_figures(s: RobustnessSummary, out: Path) -> dict[str, Path | None]:
    """coherence.png, noise.png, other.png, alpha.png under `out` (None where no axis of that group
    was swept)."""
    axes, eps = s.axes, s.eps
    return {
        "coherence": _plot_axes(
            [a for a in axes if a.axis.group == "coherence"],
            out / "coherence.png",
            eps,
            "maximum |cosine| among the M1 + M2 patterns (measured)",
            "Error against pattern coherence",
        ),
        "noise": _plot_axes(
            [a for a in axes if a.axis.group == "noise"],
            out / "noise.png",
            eps,
            "noise norm / pattern norm",
            "Error against additive input noise",
        ),
        "other": _plot_other(axes, out / "other.png", eps),
        "alpha": _plot_axes(
            [a for a in axes if a.axis.role == "constant"],
            out / "alpha.png",
            eps,
            "alpha (training; alpha' = 0.8) or alpha' (test; alpha = 0.8, alpha_gap: alpha = 1), l "
            "= 20",
            "Error at the alpha edges (hidden constants)",
        ),
    }
