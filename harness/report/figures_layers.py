"""The deep model's per-layer figure and table: same-pattern attention mass of the query row over
training, one line per block (mean over heads and seeds), and the step at which each block moved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.claims.record import Record
from harness.report.figure_stats import UNIT, mean_sd
from harness.report.paper_values import PAPER_COLOR
from harness.report.plotting import finish, new_axes, seed_interval


def _layer_series(
    records: list[Record], key: str = "attn_id_layers"
) -> tuple[list[int], list[list[list[float]]]]:
    """Checkpoint steps and, per block, per checkpoint, the head-averaged mass of every seed."""
    recs = [r for r in records if not r.failed and getattr(r.history, key)]
    if not recs:
        return [], []
    steps = recs[0].history.steps
    L = len(getattr(recs[0].history, key)[0])
    series = [
        [
            [sum(getattr(r.history, key)[i][b]) / len(getattr(r.history, key)[i][b]) for r in recs]
            for i in range(len(steps))
        ]
        for b in range(L)
    ]
    return steps, series


# a block's attention "moves" at the first checkpoint where it is this far from its value at step 0
MOVE = 0.1


def _layer_key(records: list[Record]) -> tuple[str, str]:
    """The per-block history the paper plots (OOD contexts) where the records hold it, else
    in-domain."""
    if any(
        not r.failed and r.history.attn_ood_layers and all(r.history.attn_ood_layers)
        for r in records
    ):
        return "attn_ood_layers", "OOD"
    return "attn_id_layers", "in-domain"


def move_steps(steps: list[int], per_step: list[list[float]]) -> list[int | None]:
    """Per seed, the first checkpoint step at which the block's mass is >= MOVE from its step-0
    value (None: never)."""
    out: list[int | None] = []
    for s in range(len(per_step[0])):
        start = per_step[0][s]
        out.append(next((st for st, c in zip(steps, per_step) if abs(c[s] - start) >= MOVE), None))
    return out


def attention_by_layer(records: list[Record], title: str, path: Path) -> Path | None:
    """Per block, the head-averaged same-pattern mass over training on OOD contexts (as the paper
    plots it; in-domain when not recorded), mean and 95% t band over seeds, each seed's first move
    by >= MOVE marked, and the paper's ~0.8-0.9 in every layer."""
    key, where = _layer_key(records)
    steps, series = _layer_series(records, key)
    if not steps:
        return None
    fig, ax = new_axes((5.6, 4.4))
    for b, per_step in enumerate(series):
        stats = [seed_interval(c, clip=UNIT) for c in per_step]
        ax.plot(
            steps,
            [m for m, _, _ in stats],
            color=f"C{b}",
            zorder=3,
            label=f"block {b + 1} (mean over heads, {len(per_step[0])} seeds)",
        )
        ax.fill_between(
            steps,
            [lo for _, lo, _ in stats],
            [hi for _, _, hi in stats],
            color=f"C{b}",
            alpha=0.15,
            lw=0,
        )
        moved = [m for m in move_steps(steps, per_step) if m is not None]
        ax.plot(
            moved,
            [0.02 + 0.03 * b] * len(moved),
            "|",
            ms=9,
            color=f"C{b}",
            label=f"block {b + 1}: a seed moves by >= {MOVE:g}" if moved else None,
        )
    ax.axhspan(
        0.8, 0.9, color=PAPER_COLOR, alpha=0.15, lw=0, label="paper: ~0.8-0.9 in every layer"
    )
    ax.set_xlabel("training step")
    ax.set_ylabel(f"query attention on same-pattern contexts ({where})")
    ax.set_ylim(0, 1.05)
    return finish(fig, ax, title + "\n(95% t bands over seeds)", path, outside=True)


def attention_by_layer_table(records: list[Record]) -> list[dict[str, Any]]:
    key, where = _layer_key(records)
    steps, series = _layer_series(records, key)
    rows = []
    for b, per_step in enumerate(series):
        m0, _ = mean_sd(per_step[0])
        m1, sd1 = mean_sd(per_step[-1])
        moved = ", ".join("-" if m is None else str(m) for m in move_steps(steps, per_step))
        rows.append(
            {
                "block": b + 1,
                "contexts": where,
                f"mass at step {steps[0]}": m0,
                f"mass at step {steps[-1]}": m1,
                "sd over seeds": sd1,
                f"step each seed moved by >= {MOVE:g} (- never)": moved,
                "seeds": len(per_step[-1]),
            }
        )
    return rows
