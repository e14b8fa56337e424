"""Figures that put the paper's reported trends beside ours, drawn from stored records.

A claim file asks for one with `figure = "..."`:
- "attention_curve": same-pattern attention mass over training checkpoints
  (mean +- sd over seeds), in-domain and OOD, against the paper's ~0.4 -> ~1.0;
- "error_by_prune_mode": unseen-task error against the pruning rate, one line per
  pruning mode (small / random / large magnitude), as in the paper's pruning figure;
- "attention_by_layer" (deep model): same-pattern attention mass of the query row
  over training, one line per block (mean over heads and seeds), against the
  paper's ~0.8-0.9 in every layer;
- "baselines_by_context_length": in-domain error against the number of context
  examples l_ts, one line per method (the trained Transformer and the classical
  baselines fitted on the same prompts' contexts), one panel per alpha';
- "error_by_test_length": in-domain error against the test context length l_ts,
  one line per alpha', as in the paper's figure (larger alpha' needs shorter prompts).
Figures with a `TABLES` entry also give the report a table of the same numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

from harness.claims.record import Record
from harness.report.plotting import finish, new_axes

FIGURES = ("attention_curve", "error_by_prune_mode", "attention_by_layer", "baselines_by_context_length", "error_by_test_length")


def _mean_sd(values: list[float]) -> tuple[float, float]:
    v = [x for x in values if isinstance(x, (int, float)) and math.isfinite(x)]
    if not v:
        return math.nan, math.nan
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, sd


def attention_curve(records: list[Record], title: str, path: Path) -> Path | None:
    recs = [r for r in records if not r.failed]
    if not recs:
        return None
    fig, ax = new_axes()
    for key, label, color in (("attn_id", "in-domain (unseen tasks)", "C0"), ("attn_ood", "out-of-domain", "C1")):
        steps = recs[0].history.steps
        cols = [[getattr(r.history, key)[i] for r in recs] for i in range(len(steps))]
        ms = [_mean_sd(c) for c in cols]
        if all(math.isnan(m) for m, _ in ms):
            continue
        m = [x for x, _ in ms]
        sd = [y for _, y in ms]
        ax.plot(steps, m, color=color, label=f"{label}, mean over {len(recs)} seeds")
        ax.fill_between(steps, [a - b for a, b in zip(m, sd)], [a + b for a, b in zip(m, sd)], color=color, alpha=0.2)
    ax.axhline(1.0, color="grey", ls="--", lw=0.8, label="paper: rises from ~0.4 to ~1.0")
    ax.axhline(0.4, color="grey", ls=":", lw=0.8)
    ax.set_xlabel("training step")
    ax.set_ylabel("attention mass on same-pattern contexts")
    ax.set_ylim(0, 1.05)
    return finish(fig, ax, title, path)


def _error_series(records: list[Record], x_axis: str, line_of: Callable[[dict, Record], Any]) -> dict[Any, dict[float, list[float]]]:
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


def error_by_prune_mode(records: list[Record], title: str, path: Path) -> Path | None:
    series = _error_series(records, "prune.fraction", lambda p, r: p.get("prune.mode", "small"))
    if not series:
        return None
    fig, ax = new_axes()
    for mode, color in (("small", "C2"), ("random", "C7"), ("large", "C3")):
        if mode not in series:
            continue
        xs = sorted(series[mode])
        ms = [_mean_sd(series[mode][x]) for x in xs]
        ax.errorbar(xs, [m for m, _ in ms], yerr=[s for _, s in ms], fmt="o-", color=color, capsize=3, label=f"{mode}-magnitude" if mode != "random" else "random")
    ax.set_xlabel("pruning rate R (fraction of MLP neurons removed: W_O rows; deep model: last block)")
    ax.set_ylabel("unseen-task error")
    ax.text(0.02, 0.95, "paper: small flat to ~15%, random between, large rises", transform=ax.transAxes, fontsize=7, va="top")
    return finish(fig, ax, title, path)


def error_by_test_length(records: list[Record], title: str, path: Path) -> Path | None:
    series = _error_series(records, "data.l_ts", lambda p, r: float(p.get("data.alpha_test", r.config.data.alpha_test)))
    if not series:
        return None
    fig, ax = new_axes()
    for i, alpha in enumerate(sorted(series)):
        xs = sorted(series[alpha])
        ms = [_mean_sd(series[alpha][x])[0] for x in xs]
        ax.plot(xs, ms, "o-", ms=3, color=f"C{i}", label=f"alpha' = {alpha:g}")
    ax.set_xscale("log")
    ax.set_xlabel("test context length l_ts")
    ax.set_ylabel("unseen-task error (mean over seeds)")
    ax.text(0.98, 0.95, "paper: larger alpha' reaches low error\nwith shorter test prompts", transform=ax.transAxes,
            fontsize=7, va="top", ha="right")
    return finish(fig, ax, title, path)


def _layer_series(records: list[Record], key: str = "attn_id_layers") -> tuple[list[int], list[list[list[float]]]]:
    """Checkpoint steps and, per block, per checkpoint, the head-averaged mass of every seed."""
    recs = [r for r in records if not r.failed and getattr(r.history, key)]
    if not recs:
        return [], []
    steps = recs[0].history.steps
    L = len(getattr(recs[0].history, key)[0])
    series = [[[sum(getattr(r.history, key)[i][b]) / len(getattr(r.history, key)[i][b]) for r in recs] for i in range(len(steps))]
              for b in range(L)]
    return steps, series


def attention_by_layer(records: list[Record], title: str, path: Path) -> Path | None:
    steps, series = _layer_series(records)
    if not steps:
        return None
    fig, ax = new_axes()
    for b, per_step in enumerate(series):
        ms = [_mean_sd(c) for c in per_step]
        m, sd = [x for x, _ in ms], [y for _, y in ms]
        ax.plot(steps, m, color=f"C{b}", label=f"block {b + 1} (mean over heads, {len(per_step[0])} seeds)")
        ax.fill_between(steps, [a - c for a, c in zip(m, sd)], [a + c for a, c in zip(m, sd)], color=f"C{b}", alpha=0.15)
    ax.axhspan(0.8, 0.9, color="grey", alpha=0.15, label="paper: ~0.8-0.9 in every layer")
    ax.set_xlabel("training step")
    ax.set_ylabel("query attention on same-pattern contexts")
    ax.set_ylim(0, 1.05)
    return finish(fig, ax, title, path)


def _baseline_table(records: list[Record]) -> dict[float, dict[str, dict[int, list[float]]]]:
    """alpha' -> method -> l_ts -> per-seed in-domain error rates."""
    out: dict[float, dict[str, dict[int, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in records:
        if r.failed:
            continue
        for meas in r.measurements:
            p = meas.point
            if "baseline.method" not in p:
                continue
            alpha = float(p.get("data.alpha_test", r.config.data.alpha_test))
            lts = int(p.get("data.l_ts", r.config.data.l_ts))
            out[alpha][p["baseline.method"]][lts].append(meas.err_id / meas.n)
    return out


def baselines_by_context_length(records: list[Record], title: str, path: Path) -> Path | None:
    table = _baseline_table(records)
    if not table:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alphas = sorted(table)  # one panel per alpha' (plotting.new_axes gives one axes only)
    fig, axes = plt.subplots(1, len(alphas), figsize=(5.2 * len(alphas), 3.8), squeeze=False)
    for ax, alpha in zip(axes[0], alphas):
        for i, (method, by_l) in enumerate(sorted(table[alpha].items(), key=lambda kv: (kv[0] != "transformer", kv[0]))):
            xs = sorted(by_l)
            ms = [_mean_sd(by_l[x]) for x in xs]
            style = dict(lw=2.2, color="k") if method == "transformer" else dict(lw=1, color=f"C{i}", ls="--" if method == "best" else "-")
            ax.errorbar(xs, [m for m, _ in ms], yerr=[s for _, s in ms], fmt="o", capsize=2, label=method, **style)
        ax.set_xscale("log", base=2)
        ls = sorted({x for by_l in table[alpha].values() for x in by_l})
        ax.set_xticks(ls, [str(x) for x in ls])
        ax.minorticks_off()
        ax.set_xlabel("context examples l_ts")
        ax.set_ylabel("in-domain error (unseen tasks)")
        ax.set_title(f"{title}\nalpha' = {alpha:g}", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def attention_by_layer_table(records: list[Record]) -> list[Record]:
    steps, series = _layer_series(records)
    rows = []
    for b, per_step in enumerate(series):
        m0, _ = _mean_sd(per_step[0])
        m1, sd1 = _mean_sd(per_step[-1])
        rows.append({"block": b + 1, f"mass at step {steps[0]}": m0, f"mass at step {steps[-1]}": m1, "sd over seeds": sd1, "seeds": len(per_step[-1])})
    return rows


def baselines_table(records: list[Record]) -> list[Record]:
    rows = []
    for alpha, by_method in sorted(_baseline_table(records).items()):
        for method, by_l in sorted(by_method.items(), key=lambda kv: (kv[0] != "transformer", kv[0])):
            row: dict[str, Any] = {"alpha'": alpha, "method": method}
            for lts in sorted(by_l):
                row[f"l_ts={lts}"] = _mean_sd(by_l[lts])[0]
            rows.append(row)
    return rows


TABLES = {"attention_by_layer": attention_by_layer_table, "baselines_by_context_length": baselines_table}


def table(kind: str, records: list[Record]) -> list[Record]:
    """Rows of the numbers behind figure `kind` (empty when it has no table)."""
    return TABLES[kind](records) if kind in TABLES else []


def draw(kind: str, records: list[Record], title: str, path: Path) -> Path | None:
    if kind not in FIGURES:
        raise ValueError(f"figure must be one of {', '.join(FIGURES)}, got {kind!r}")
    return {"attention_curve": attention_curve, "error_by_prune_mode": error_by_prune_mode,
            "attention_by_layer": attention_by_layer, "baselines_by_context_length": baselines_by_context_length,
            "error_by_test_length": error_by_test_length}[kind](records, title, path)
