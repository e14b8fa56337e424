"""Figures that put the paper's reported trends beside ours, drawn from stored records.

A claim file asks for one with `figure = "..."`:
- "attention_curve": same-pattern attention mass over training checkpoints
  (mean +- sd over seeds), in-domain and OOD, against the paper's ~0.4 -> ~1.0;
- "error_by_prune_mode": unseen-task error against the pruning rate, one line per
  pruning mode (small / random / large magnitude), as in the paper's pruning figure;
- "attention_by_layer" (deep model): same-pattern attention mass of the query row
  over training, one line per block (mean over heads and seeds), against the paper's ~0.8-0.9 in
  every layer;
- "baselines_by_context_length": in-domain error against the number of context
  examples l_ts, one line per method (the trained Transformer and the classical baselines fitted on
  the same prompts' contexts), one panel per alpha';
- "error_by_test_length": in-domain error against the test context length l_ts,
  one line per alpha', as in the paper's figure (larger alpha' needs shorter prompts);
- "row_norm_histogram": the W_O row norms of every seed (Probes.row_norms), bimodal in the paper's
  account.
Intervals are 95% t intervals over seeds, clipped to [0, 1] for rates and masses; the paper's values
are drawn in its colour and labelled "paper". Figures with a `TABLES` entry also give the report a
table of the same numbers."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.claims.record import Record
from harness.core.registry import Registry
from harness.measure.baselines import chance_floor
from harness.report.figure_stats import UNIT
from harness.report.figures_baselines import baselines_by_context_length, baselines_table
from harness.report.figures_layers import attention_by_layer, attention_by_layer_table
from harness.report.paper_values import PAPER_COLOR
from harness.report.plotting import (
    finish,
    new_axes,
    plain_log_ticks,
    seed_interval,
    set_grid_xscale,
    yerr,
)

FigureDrawer = Callable[[list[Record], str, Path], "Path | None"]
FIGURE_DRAWERS: Registry[FigureDrawer] = Registry("figure")


def _s1_label(records: list[Record]) -> tuple[str, list[float]]:
    """The S1 the OOD checkpoints were measured at (the training config's) and the other S1 values
    the eval points measure the final model at (a claim such as attn-concentration-ood is judged
    there)."""
    train = sorted({float(r.config.data.S1) for r in records})
    evals = sorted(
        {float(m.point["data.S1"]) for r in records for m in r.measurements if "data.S1" in m.point}
        - set(train)
    )
    return ", ".join(f"{s:g}" for s in train), evals


def attention_curve(records: list[Record], title: str, path: Path) -> Path | None:
    """Same-pattern attention over training checkpoints (mean, 95% t interval over seeds), in-domain
    and OOD at the training config's S1, the final OOD mass at any other S1 the claim is judged at,
    and the paper's ~0.4 -> ~1.0."""
    recs = [r for r in records if not r.failed]
    if not recs or not recs[0].history.steps:
        return None
    fig, ax = new_axes((5.6, 4.4))
    s1_train, s1_evals = _s1_label(recs)
    steps = recs[0].history.steps
    for key, label, color in (
        ("attn_id", "in-domain (unseen tasks)", "C0"),
        ("attn_ood", f"out-of-domain at S1 = {s1_train} (checkpoints)", "C1"),
    ):
        stats = [
            seed_interval([getattr(r.history, key)[i] for r in recs], clip=UNIT)
            for i in range(len(steps))
        ]
        if all(math.isnan(m) for m, _, _ in stats):
            continue
        ax.plot(
            steps,
            [m for m, _, _ in stats],
            color=color,
            zorder=3,
            label=f"{label}, mean of {len(recs)} seeds",
        )
        ax.fill_between(
            steps,
            [lo for _, lo, _ in stats],
            [hi for _, _, hi in stats],
            color=color,
            alpha=0.2,
            lw=0,
        )
    for i, s1 in enumerate(s1_evals):
        m, lo, hi = seed_interval(
            [
                meas.attn_ood
                for r in recs
                for meas in r.measurements
                if meas.point.get("data.S1") == s1
            ],
            clip=UNIT,
        )
        ax.errorbar(
            [steps[-1]],
            [m],
            yerr=yerr([m], [(lo, hi)]),
            fmt="s",
            color=f"C{3 + i}",
            capsize=4,
            zorder=4,
            label=f"out-of-domain at S1 = {s1:g}, final model (where the claim is judged)",
        )
    ax.axhline(1.0, color=PAPER_COLOR, ls="-.", lw=1.2, label="paper: rises from ~0.4 to ~1.0")
    ax.axhline(0.4, color=PAPER_COLOR, ls=":", lw=1.2)
    ax.set_xlabel("training step")
    ax.set_ylabel("attention mass on same-pattern contexts")
    ax.set_ylim(0, 1.05)
    if s1_evals:
        title += (
            f"\n(OOD curve at the training S1 = {s1_train}; judged at S1 = "
            f"{', '.join(f'{s:g}' for s in s1_evals)})"
        )
    return finish(fig, ax, title + "\n(95% t intervals over seeds)", path, outside=True)


def _error_series(
    records: list[Record], x_axis: str, line_of: Callable[[dict, Record], Any]
) -> dict[Any, dict[float, list[float]]]:
    """Unseen-task error rates of the non-failed records at every eval point that sets `x_axis`:
    line (line_of(point, record)) -> x -> one rate per seed."""
    series: dict[Any, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.failed:
            continue
        for meas in r.measurements:
            p = meas.point
            if x_axis in p:
                series[line_of(p, r)][float(p[x_axis])].append(meas.err_id / meas.n)
    return series


def prune_xlabel(records: list[Record]) -> str:
    """The pruning figure's x-label, from the architecture the records trained: W_O rows of the
    one-layer model, the last block's MLP rows of the deep one."""
    archs = {r.config.model.arch for r in records}
    if archs == {"deep"}:
        return "pruning rate R (fraction of the last block's MLP rows removed)"
    if archs <= {"paper"}:
        return "pruning rate R (fraction of W_O rows removed)"
    return "pruning rate R (fraction of prunable rows removed: " + ", ".join(sorted(archs)) + ")"


def error_by_prune_mode(records: list[Record], title: str, path: Path) -> Path | None:
    """Unseen-task error against the pruning rate R per mode (mean, 95% t interval over seeds,
    clipped to [0, 1]), with the paper's "flat up to ~15%" for small-magnitude pruning."""
    series = _error_series(records, "prune.fraction", lambda p, r: p.get("prune.mode", "small"))
    if not series:
        return None
    fig, ax = new_axes((5.6, 4.4))
    # distinct markers and line styles (random: large hollow squares), so that modes with equal
    # errors stay visible
    for mode, color, fmt, ms, face in (
        ("small", "C2", "o-", 5, None),
        ("random", "C7", "s--", 9, "none"),
        ("large", "C3", "^:", 6, None),
    ):
        if mode not in series:
            continue
        xs = sorted(series[mode])
        stats = [seed_interval(series[mode][x], clip=UNIT) for x in xs]
        means = [m for m, _, _ in stats]
        ax.errorbar(
            xs,
            means,
            yerr=yerr(means, [(lo, hi) for _, lo, hi in stats]),
            fmt=fmt,
            color=color,
            capsize=3,
            zorder=3,
            ms=ms,
            mfc=face or color,
            label=f"{mode}-magnitude" if mode != "random" else "random",
        )
    ax.axvspan(
        0.0,
        0.15,
        color=PAPER_COLOR,
        alpha=0.12,
        lw=0,
        label="paper: small-magnitude flat up to ~15%",
    )
    ax.set_ylim(bottom=-0.01)
    ax.set_xlabel(prune_xlabel(records))
    ax.set_ylabel("unseen-task error")
    ax.text(
        0.02,
        0.97,
        "paper: random between, large rises",
        transform=ax.transAxes,
        fontsize=7,
        va="top",
        color=PAPER_COLOR,
    )
    return finish(fig, ax, title + "\n(95% t intervals over seeds)", path, outside=True)


def error_by_test_length(records: list[Record], title: str, path: Path) -> Path | None:
    """Unseen-task error against the test context length, one line per alpha' (mean over seeds, 95%
    t band); where the claim also measured 1-NN on the same prompts (`baseline.method` = "knn1"),
    its error dashed in the same colour, and, dotted, the combinatorial floor under iid contexts
    (half the chance that no context shares the query's pattern: what any learner pays; 0 under the
    paper's at-least-alpha'/2 prompts)."""

    def line(p: dict, r: Record) -> tuple[str, float]:
        return str(p.get("baseline.method", "transformer")), float(
            p.get("data.alpha_test", r.config.data.alpha_test)
        )

    series = _error_series(records, "data.l_ts", line)
    if not series:
        return None
    fig, ax = new_axes((5.6, 4.4))
    alphas = sorted({a for _, a in series})
    for i, alpha in enumerate(alphas):
        for method, style in (("transformer", "o-"), ("knn1", "s--")):
            by_x = series.get((method, alpha))
            if not by_x:
                continue
            xs = sorted(by_x)
            stats = [seed_interval(by_x[x], clip=UNIT) for x in xs]
            ax.plot(
                xs,
                [m for m, _, _ in stats],
                style,
                ms=3,
                color=f"C{i}",
                lw=1.6 if method == "transformer" else 0.9,
                label=f"alpha' = {alpha:g}"
                if method == "transformer"
                else ("1-NN (dashed, colour of its alpha')" if i == 0 else None),
            )
            if method == "transformer":
                ax.fill_between(
                    xs,
                    [lo for _, lo, _ in stats],
                    [hi for _, _, hi in stats],
                    color=f"C{i}",
                    alpha=0.15,
                    lw=0,
                )
        if any(m == "knn1" for m, _ in series):  # light and thin: the floor frames the data
            ls = sorted({x for (m, a), by_x in series.items() if a == alpha for x in by_x})
            ax.plot(
                ls,
                [chance_floor("iid", alpha, x) for x in ls],
                ":",
                color=f"C{i}",
                lw=0.7,
                alpha=0.35,
                zorder=1,
                label="floor under iid contexts (dotted, light)" if i == 0 else None,
            )
    set_grid_xscale(ax, [x for by_x in series.values() for x in by_x], force_log=True)
    # the y range is the measured errors' (the floors may leave it): they, not the floors, lead
    top = max((e for by_x in series.values() for es in by_x.values() for e in es), default=0.0)
    ax.set_ylim(-0.01, min(1.0, max(0.05, 1.3 * top + 0.01)))
    ax.set_xlabel("test context length l_ts (log)")
    ax.set_ylabel("unseen-task error")
    ax.text(
        0.98,
        0.97,
        "paper: larger alpha' reaches low error\nwith shorter test prompts",
        transform=ax.transAxes,
        fontsize=7,
        va="top",
        ha="right",
        color=PAPER_COLOR,
    )
    return finish(
        fig,
        ax,
        title + "\n(mean over seeds, 95% t band; dashed: 1-NN on the same prompts)",
        path,
        outside=True,
    )


def row_norm_histogram(records: list[Record], title: str, path: Path) -> Path | None:
    """Histogram of the W_O row norms (log bins; one outline per seed) with each seed's split into
    the small and the large cluster (the probe's large_neuron_fraction): the bimodality
    mlp-bimodal-norms judges by its ratio. None when no record holds row norms (records written
    before they were stored)."""
    recs = [
        r
        for r in records
        if not r.failed
        and r.probes.row_norms
        and all(math.isfinite(x) and x > 0 for x in r.probes.row_norms)
    ]
    if not recs:
        return None
    import numpy as np

    every = [x for r in recs for x in r.probes.row_norms]
    bins = np.geomspace(min(every) * 0.9, max(every) * 1.1, 40)
    fig, ax = new_axes((5.6, 4.2))
    for i, r in enumerate(recs):
        norms = sorted(r.probes.row_norms)
        ax.hist(
            norms,
            bins=bins,
            histtype="step",
            lw=1.2,
            color=f"C{i % 10}",
            label=f"seed {r.replicate}: norm ratio {r.probes.norm_ratio:.3g}",
        )
        k = (
            round(r.probes.large_neuron_fraction * len(norms))
            if math.isfinite(r.probes.large_neuron_fraction)
            else 0
        )
        if 0 < k < len(norms):
            ax.axvline(norms[len(norms) - k], color=f"C{i % 10}", ls=":", lw=1)
    ax.set_xscale("log")
    plain_log_ticks(ax.xaxis)
    ax.set_xlabel("norm of a W_O row (log); dotted: each seed's small / large split")
    ax.set_ylabel("rows (neurons)")
    ax.text(
        0.02,
        0.97,
        "paper: a constant fraction of rows large,\nthe rest near their initial size",
        transform=ax.transAxes,
        fontsize=7,
        va="top",
        color=PAPER_COLOR,
    )
    return finish(
        fig,
        ax,
        f"{title}\n{len(recs)} seeds, {len(recs[0].probes.row_norms)} rows each",
        path,
        outside=True,
    )


for _name, _draw in (
    ("attention_curve", attention_curve),
    ("error_by_prune_mode", error_by_prune_mode),
    ("attention_by_layer", attention_by_layer),
    ("baselines_by_context_length", baselines_by_context_length),
    ("error_by_test_length", error_by_test_length),
    ("row_norm_histogram", row_norm_histogram),
):
    FIGURE_DRAWERS.register(_name, _draw)
# the names a claim file's `figure` may take (checked when claims load)
FIGURES = FIGURE_DRAWERS.names()
TABLES = {
    "attention_by_layer": attention_by_layer_table,
    "baselines_by_context_length": baselines_table,
}


def table(kind: str, records: list[Record]) -> list[dict[str, Any]]:
    """Rows of the numbers behind figure `kind` (empty when it has no table)."""
    return TABLES[kind](records) if kind in TABLES else []


def draw(kind: str, records: list[Record], title: str, path: Path) -> Path | None:
    """Figure `kind` from `records` at `path`; None when the records do not hold its numbers."""
    if kind not in FIGURE_DRAWERS:
        raise ValueError(f"figure must be one of {', '.join(FIGURE_DRAWERS.names())}, got {kind!r}")
    return FIGURE_DRAWERS.get(kind)(records, title, path)
