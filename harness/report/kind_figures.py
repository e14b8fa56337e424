"""One figure per claim, drawn from its Verdict by the claim's kind: `KIND_FIGURES` maps a kind name
to its drawer.

Every drawer shows what the verdict rests on: the measured numbers with intervals (t intervals over
seeds, or Clopper-Pearson for pooled error counts; clipped to [0, 1] for metrics that are
proportions), the claim's eps, threshold or margin, and the paper's values where docs/paper.md
gives them (report.paper_values). A new kind registers its drawer with
`KIND_FIGURES.register(name, drawer)`.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np

from harness.claims.kinds.base import fmt_point
from harness.claims.verdict import Verdict
from harness.report import figure_reproduction  # noqa: F401  (registers the figure kind's drawer)
from harness.report.kind_figure_registry import (
    CLAIM_COLOR,
    KIND_FIGURES,
    MEASURED_COLOR,
    figure_title,
    proportion_clip,
)
from harness.report.paper_values import draw_paper, paper_values
from harness.report.plotting import (
    accepted_exponents,
    axis_label,
    finish,
    new_axes,
    plain_log_ticks,
    set_grid_xscale,
    t_interval,
    yerr,
)


def _draw_control(ax, v: Verdict, x: float, clip: tuple[float, float] | None = None) -> bool:
    """The control's estimate with its bounds at `x`, in grey (False when it has none)."""
    c = v.control
    e = c.estimate if c is not None else None
    if e is None or not _finite(e.value):
        return False
    lo, hi = (
        e.lower if math.isfinite(e.lower) else e.value,
        e.upper if math.isfinite(e.upper) else e.value,
    )
    if clip:
        lo, hi = max(clip[0], lo), min(clip[1], hi)
    ax.errorbar(
        [x],
        [e.value],
        yerr=yerr([e.value], [(lo, hi)]),
        fmt="D",
        mfc="white",
        color="0.45",
        capsize=5,
        zorder=4,
        label=f"control {c.name}: mean, one-sided 95% bounds",
    )
    return True


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def draw_rate(v: Verdict, path: Path) -> Path | None:
    """Log-log: per-point geometric means with 95% t intervals over seeds, the fit, the predicted
    exponent through the points' centre and the margin as the band of slopes b0 +- margin around it.
    """
    d = v.details
    pts = [p for p in d.get("points", []) if _finite(p.get("mean_log_y"))]
    if not pts:
        return None
    x = np.array([p["x"] for p in pts], dtype=float)
    m = np.array([p["mean_log_y"] for p in pts])
    valid = np.array([bool(p["valid"]) for p in pts])
    ivs = [t_interval(p["mean_log_y"], p["sd_log_y"], p["n"]) for p in pts]
    gm, lo, hi = np.exp(m), np.exp([a for a, _ in ivs]), np.exp([b for _, b in ivs])
    fig, ax = new_axes((5.6, 4.4))
    for sel, fmt, color, label in (
        (valid, "o", MEASURED_COLOR, "geometric mean over seeds, 95% t interval"),
        (~valid, "x", "C1", "point with capped runs (not fitted)"),
    ):
        if sel.any():
            ax.errorbar(
                x[sel],
                gm[sel],
                yerr=[gm[sel] - lo[sel], hi[sel] - gm[sel]],
                fmt=fmt,
                color=color,
                capsize=3,
                zorder=3,
                label=label,
            )
    xs = np.geomspace(x.min(), x.max(), 60)
    b, ci = d.get("exponent"), d.get("ci90") or (math.nan, math.nan)
    if _finite(b) and _finite(d.get("intercept")):  # a failed fit (nan) leaves the points alone
        fit = (
            d["intercept"] * xs**b + d["offset"]
            if _finite(d.get("offset"))
            else np.exp(d["intercept"]) * xs**b
        )
        ax.plot(
            xs,
            fit,
            "-",
            color=MEASURED_COLOR,
            zorder=2,
            label=f"fit b = {b:.3g}, 90% CI [{ci[0]:.3g}, {ci[1]:.3g}]",
        )
    b0, margin = v.predicted.get("exponent"), v.predicted.get("margin")
    if _finite(b0) and valid.any():
        cx, cy = np.mean(np.log(x[valid])), np.mean(m[valid])
        line = lambda slope: np.exp(cy + slope * (np.log(xs) - cx))  # noqa: E731  (through the points' centre)
        ax.plot(
            xs,
            line(b0),
            "--",
            color=CLAIM_COLOR,
            zorder=2,
            label=f"predicted (paper): b = {b0:.3g}",
        )
        if _finite(margin):
            lo, hi, text = accepted_exponents(v.predicted)
            if math.isfinite(lo) and math.isfinite(hi):
                ax.fill_between(
                    xs,
                    np.minimum(line(lo), line(hi)),
                    np.maximum(line(lo), line(hi)),
                    color=CLAIM_COLOR,
                    alpha=0.12,
                    lw=0,
                    label=f"margin: slopes {lo:.3g} to {hi:.3g}",
                )
            # one-sided (sufficient): the edge slope, dotted; any slope on its allowed side is
            # accepted
            else:
                edge = lo if math.isfinite(lo) else hi
                ax.plot(
                    xs, line(edge), ":", color=CLAIM_COLOR, zorder=2, label=f"edge slope: {text}"
                )
    set_grid_xscale(ax, list(x), force_log=True)
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel(d.get("x_axis", "x") + " (log)")
    # the fitted quantity
    ax.set_ylabel(axis_label(f"{d.get('y_label') or v.metric or 'y'} (log)"))
    draw_paper(ax, paper_values(v.claim_id))
    return finish(fig, ax, figure_title(v, v.prediction), path, outside=True)


def _positions(points: list[dict]) -> tuple[list[float], list[str] | None, str]:
    """x of each grid point: the value of the one numeric axis they vary in (label None), else
    0..n-1 with the points as tick labels; and the axis name."""
    keys = sorted({k for p in points for k in p})
    if len(keys) == 1 and all(_finite(p.get(keys[0])) for p in points):
        return [float(p[keys[0]]) for p in points], None, keys[0]
    varying = [k for k in keys if len({repr(p.get(k)) for p in points}) > 1]
    if not varying:
        return list(range(len(points))), [fmt_point(p) for p in points], "grid point"
    ticks = [
        "/".join(f"{p[k]:g}" if isinstance(p.get(k), float) else str(p.get(k)) for k in varying)
        for p in points
    ]
    return (
        list(range(len(points))),
        ticks,
        "grid point: " + " / ".join(k.split(".")[-1] for k in varying),
    )


def draw_bound(v: Verdict, path: Path) -> Path | None:
    """Error rate per grid point (pooled over seeds) with its Clopper-Pearson 95% bounds (or the
    hinge loss with its t bounds over seeds), and the eps line."""
    pts = v.details.get("points", [])
    eps = v.details.get("eps", v.predicted.get("eps"))
    if not pts or not _finite(eps):
        return None
    x, ticks, axis = _positions([p["point"] for p in pts])
    # a hinge-loss bound: mean over seeds with one-sided t bounds (kinds.bound)
    hinge = "mean" in pts[0]
    rate = [p["mean" if hinge else "rate"] for p in pts]
    lo, hi = ("lower95", "upper95") if hinge else ("cp_lower95", "cp_upper95")
    fig, ax = new_axes()
    ax.errorbar(
        x,
        rate,
        yerr=yerr(rate, [(p[lo], p[hi]) for p in pts]),
        fmt="o",
        color=MEASURED_COLOR,
        capsize=4,
        zorder=3,
        label="mean hinge loss over seeds, one-sided 95% t bounds"
        if hinge
        else "errors / prompts (pooled over seeds), CP 95% bounds",
    )
    ax.axhline(
        eps, color=CLAIM_COLOR, ls="--", label=f"eps = {eps:g}: the upper bound must stay below"
    )
    if ticks:
        ax.set_xticks(x, ticks, fontsize=7, rotation=30 if len(x) > 4 else 0)
        ax.set_xlim(-0.6, len(x) - 0.4)
    else:
        set_grid_xscale(ax, x)
        if len(x) == 1:
            ax.set_xlim(x[0] * 0.5, x[0] * 1.5)
    draw_paper(ax, paper_values(v.claim_id), x_max=max(x))
    top = max(eps, *(p[hi] for p in pts if _finite(p[hi]))) * 1.3 + 0.01
    ax.set_ylim(-0.01, top if hinge else min(1.0, top))
    ax.set_xlabel(axis)
    ax.set_ylabel(v.metric if hinge else f"{v.metric or 'error rate'} (rate)")
    return finish(fig, ax, figure_title(v, v.prediction), path)


def _strip(n: int, centre: float) -> np.ndarray:
    """Deterministic horizontal jitter for n dots around `centre`."""
    return centre + (np.linspace(-0.18, 0.18, n) if n > 1 else np.zeros(n))


def draw_comparison(v: Verdict, path: Path) -> Path | None:
    """The paired differences a - b (one dot per pair), their mean with the one-sided 95% t bounds,
    the margin and 0."""
    diffs = [x for x in v.details.get("differences", []) if _finite(x)]
    if not diffs or v.estimate is None:
        return None
    rel, margin = v.predicted.get("relation", ""), v.predicted.get("margin")
    fig, ax = new_axes()
    ax.plot(
        _strip(len(diffs), 0.0),
        diffs,
        "o",
        color=MEASURED_COLOR,
        alpha=0.6,
        zorder=3,
        label=f"paired difference a - b ({len(diffs)} pairs)",
    )
    e = v.estimate
    bounds = (
        e.lower if math.isfinite(e.lower) else e.value,
        e.upper if math.isfinite(e.upper) else e.value,
    )
    ax.errorbar(
        [1.0],
        [e.value],
        yerr=yerr([e.value], [bounds]),
        fmt="D",
        color="k",
        capsize=5,
        zorder=4,
        label="mean, one-sided 95% t bounds",
    )
    paper = paper_values(v.claim_id)
    if not any(pv.y == 0.0 for pv in paper):  # the paper's own zero line is drawn on top instead
        ax.axhline(0.0, color="k", lw=0.6, zorder=1)
    if _finite(margin):
        ax.axhline(
            margin, color=CLAIM_COLOR, ls="--", label=f"margin: predicted a - b {rel} {margin:g}"
        )
    draw_paper(ax, paper)
    ctl = _draw_control(ax, v, 2.0)
    ax.set_xticks(
        [0.0, 1.0, 2.0][: 3 if ctl else 2], ["pairs", "mean", "control"][: 3 if ctl else 2]
    )
    ax.set_xlim(-0.6, 2.6 if ctl else 1.6)
    ax.set_ylabel(axis_label(f"{v.metric or 'metric'}[a] - {v.metric or 'metric'}[b]"))
    a, b = v.details.get("a_mean"), v.details.get("b_mean")
    if _finite(a) and _finite(b):
        ax.set_xlabel(f"mean a = {a:.4g}, mean b = {b:.4g}", fontsize=8)
    return finish(fig, ax, figure_title(v, v.prediction), path, outside=True)


def draw_trend(v: Verdict, path: Path) -> Path | None:
    """Per-x means with 95% t intervals over seeds (clipped to [0, 1] for proportions), the
    predicted direction as an arrow, and the paper's values."""
    pts = [p for p in v.details.get("points", []) if _finite(p.get("x")) and _finite(p.get("mean"))]
    if not pts:
        return None
    clip = proportion_clip(v)
    x, mean = [p["x"] for p in pts], [p["mean"] for p in pts]
    ivs = [t_interval(p["mean"], p.get("sd", math.nan), p.get("n", 1), clip=clip) for p in pts]
    fig, ax = new_axes()
    ax.errorbar(
        x,
        mean,
        yerr=yerr(mean, ivs),
        fmt="o-",
        color=MEASURED_COLOR,
        capsize=3,
        zorder=3,
        label=f"mean over seeds, 95% t interval{' (clipped to [0, 1])' if clip else ''}",
    )
    log = set_grid_xscale(ax, x)
    draw_paper(ax, paper_values(v.claim_id), x_max=max(x))
    direction = v.predicted.get("direction", "")
    # a legend entry, so the arrow never sits on the data
    if direction in ("increasing", "decreasing"):
        rho = v.details.get("rho")
        ax.plot(
            [],
            [],
            ls="none",
            marker=r"$\nearrow$" if direction == "increasing" else r"$\searrow$",
            ms=14,
            color=CLAIM_COLOR,
            label=f"predicted: {direction}"
            + (f" (measured Spearman rho = {rho:.2f})" if _finite(rho) else ""),
        )
    if clip:
        ax.set_ylim(-0.02, min(1.02, max(hi for _, hi in ivs) * 1.35 + 0.02))
    ax.set_xlabel(v.details.get("x_axis", "x") + (" (log)" if log else ""))
    ax.set_ylabel(v.metric or "metric")
    return finish(fig, ax, figure_title(v, v.prediction), path, outside=True)


def draw_threshold(v: Verdict, path: Path) -> Path | None:
    """Every run's value, the mean with its one-sided 95% t bounds (clipped to [0, 1] for
    proportions), the per-point means where there are several grid points, the threshold and the
    paper's values."""
    vals = [x for x in v.details.get("values", []) if _finite(x)]
    thr = v.predicted.get("threshold")
    if not vals or v.estimate is None or not _finite(thr):
        return None
    clip = proportion_clip(v) or (-math.inf, math.inf)
    e = v.estimate
    lo, hi = (
        max(clip[0], e.lower if math.isfinite(e.lower) else e.value),
        min(clip[1], e.upper if math.isfinite(e.upper) else e.value),
    )
    fig, ax = new_axes()
    ax.plot(
        _strip(len(vals), 0.0),
        vals,
        "o",
        color=MEASURED_COLOR,
        alpha=0.6,
        zorder=3,
        label=f"per run ({len(vals)} runs)",
    )
    ax.errorbar(
        [1.0],
        [e.value],
        yerr=yerr([e.value], [(lo, hi)]),
        fmt="D",
        color="k",
        capsize=5,
        zorder=4,
        label="mean, one-sided 95% t bounds",
    )
    ticks = ["runs", "mean"]
    per = v.details.get("points", [])
    if len(per) > 1:
        ax.plot(
            range(2, 2 + len(per)),
            [p["mean"] for p in per],
            "s",
            color="C2",
            zorder=3,
            label="mean per grid point",
        )
        ticks += [textwrap.shorten(fmt_point(p["point"]), 18) for p in per]
    if _draw_control(ax, v, float(len(ticks)), proportion_clip(v)):
        ticks.append("control")
    ax.axhline(
        thr,
        color=CLAIM_COLOR,
        ls="--",
        label=f"threshold: mean {v.predicted.get('relation', '')} {thr:g}",
    )
    draw_paper(ax, paper_values(v.claim_id))
    ax.set_xticks(range(len(ticks)), ticks, fontsize=7, rotation=20 if len(ticks) > 3 else 0)
    ax.set_xlim(-0.6, len(ticks) - 0.4)
    if proportion_clip(v):
        ax.set_ylim(0.0, 1.05)
    ax.set_ylabel(v.metric or "metric")
    return finish(fig, ax, figure_title(v, v.prediction), path, outside=True)


for _kind, _drawer in (
    ("rate", draw_rate),
    ("bound", draw_bound),
    ("comparison", draw_comparison),
    ("trend", draw_trend),
    ("threshold", draw_threshold),
):
    KIND_FIGURES.register(_kind, _drawer)


def draw_kind_figure(v: Verdict, path: Path) -> Path | None:
    """The kind figure of `v` at `path` (None when its kind has no drawer or the verdict has nothing
    to draw, e.g. ERROR)."""
    return KIND_FIGURES.get(v.kind)(v, path) if v.kind in KIND_FIGURES else None
