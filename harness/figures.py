"""Figures that put the paper's reported trends beside ours, drawn from stored records.

A claim file asks for one with `figure = "..."`:
- "attention_curve": same-pattern attention mass over training checkpoints
  (mean +- sd over seeds), in-domain and OOD, against the paper's ~0.4 -> ~1.0;
- "error_by_prune_mode": unseen-task error against the pruning rate, one line per
  pruning mode (small / random / large magnitude), as in the paper's pruning figure.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

FIGURES = ("attention_curve", "error_by_prune_mode")


def _mean_sd(values: list[float]) -> tuple[float, float]:
    v = [x for x in values if isinstance(x, (int, float)) and math.isfinite(x)]
    if not v:
        return math.nan, math.nan
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, sd


def attention_curve(records: list[dict[str, Any]], title: str, path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [r for r in records if not r.get("failed")]
    if not recs:
        return None
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for key, label, color in (("attn_id", "in-domain (unseen tasks)", "C0"), ("attn_ood", "out-of-domain", "C1")):
        steps = recs[0]["history"]["steps"]
        cols = [[r["history"][key][i] for r in recs] for i in range(len(steps))]
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
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def error_by_prune_mode(records: list[dict[str, Any]], title: str, path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.get("failed"):
            continue
        for meas in r["measurements"]:
            p = meas["point"]
            if "prune.fraction" in p:
                series[p.get("prune.mode", "small")][float(p["prune.fraction"])].append(meas["err_id"] / meas["n"])
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for mode, color in (("small", "C2"), ("random", "C7"), ("large", "C3")):
        if mode not in series:
            continue
        xs = sorted(series[mode])
        ms = [_mean_sd(series[mode][x]) for x in xs]
        ax.errorbar(xs, [m for m, _ in ms], yerr=[s for _, s in ms], fmt="o-", color=color, capsize=3, label=f"{mode}-magnitude" if mode != "random" else "random")
    ax.set_xlabel("pruning rate R (fraction of W_O rows removed)")
    ax.set_ylabel("unseen-task error")
    ax.set_title(title, fontsize=10)
    ax.text(0.02, 0.95, "paper: small flat to ~15%, random between, large rises", transform=ax.transAxes, fontsize=7, va="top")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw(kind: str, records: list[dict[str, Any]], title: str, path: Path) -> Path | None:
    if kind not in FIGURES:
        raise ValueError(f"figure must be one of {', '.join(FIGURES)}, got {kind!r}")
    return {"attention_curve": attention_curve, "error_by_prune_mode": error_by_prune_mode}[kind](records, title, path)
