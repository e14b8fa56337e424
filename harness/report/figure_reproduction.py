"""The figure of a `figure` claim: the measured curves of every series, one panel per world of its
mixture factor, under the paper's points with the factor band around each.

Log y: the paper's figures are read on log axes. A measured 0 is drawn at its resolution (the
smallest rate its prompts can tell from 0), hollow, so a zero never vanishes off the axis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.claims.verdict import Verdict
from harness.report.kind_figure_registry import KIND_FIGURES, figure_title
from harness.report.plotting import new_panels, save_figure


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float)) else (1, str(v))


def _floor(world: dict[str, Any]) -> float:
    res = [p["resolution"] for p in world["points"] if p["resolution"] > 0]
    return min(res) if res else 1e-4


def _panel(ax, world: dict[str, Any], name: str, factor: float, colors: dict[Any, str]) -> None:
    floor = _floor(world)
    for series in sorted({c["series"] for c in world["curves"]}, key=_sort_key):
        pts = sorted((c for c in world["curves"] if c["series"] == series), key=lambda c: c["x"])
        x = [c["x"] for c in pts]
        y = [max(c["mean"], floor) for c in pts]
        lo = [max(c["lower"], floor * 0.5) for c in pts]
        hi = [max(c["upper"], floor) for c in pts]
        color = colors[series]
        ax.plot(x, y, "-", color=color, lw=1.4, label=f"measured, {series}")
        ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
        zeros = [(xi, yi) for xi, yi, c in zip(x, y, pts) if c["mean"] <= 0]
        if zeros:
            ax.plot(*zip(*zeros), "o", mfc="white", color=color, ms=4)
    for p in world["points"]:
        color = colors.get(p["series"], "k")
        lo, hi = p["paper"] / factor, p["paper"] * factor
        ax.plot([p["x"]] * 2, [lo, hi], "-", color=color, lw=5, alpha=0.25)
        ax.plot(p["x"], p["paper"], "D", color=color, mec="k", ms=6, zorder=4)
    ax.set_yscale("log")
    seeds = world.get("seeds", 0)
    ax.set_title(f"{name or 'all seeds'} ({seeds} seeds): {world['verdict']}", fontsize=8)


def draw_figure_claim(v: Verdict, path: Path) -> Path | None:
    """One panel per world; the paper's points as diamonds with their factor band."""
    worlds = v.details.get("worlds") or {}
    if not worlds:
        return None
    factor = float(v.details.get("factor", 2.0))
    series = sorted({c["series"] for w in worlds.values() for c in w["curves"]}, key=_sort_key)
    colors = {s: f"C{i}" for i, s in enumerate(series)}
    fig, axes = new_panels(len(worlds), (4.6 * len(worlds) + 0.6, 4.2))
    axes = list(axes) if len(worlds) > 1 else [axes]
    for ax, (name, world) in zip(axes, worlds.items()):
        _panel(ax, world, name, factor, colors)
        ax.set_xlabel(v.details.get("x_axis", "x"))
    axes[0].set_ylabel(f"{v.metric or 'metric'} (log; a 0 drawn hollow at its resolution)")
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [axes[0].plot([], [], "D", color="grey", mec="k")[0]]
    labels += [f"paper's point, band: within a factor {factor:g}"]
    fig.legend(
        handles,
        labels,
        fontsize=7,
        loc="lower center",
        ncol=3,
        frameon=False,
        bbox_to_anchor=(0.5, -0.08),
    )
    fig.suptitle(figure_title(v, v.prediction), fontsize=9)
    return save_figure(fig, path)


KIND_FIGURES.register("figure", draw_figure_claim)

__all__ = ["draw_figure_claim"]
