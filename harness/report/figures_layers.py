"""The deep model's per-layer figure and table: same-pattern attention mass of the query row over
training, one line per block (mean over heads and seeds); the table gives every head of every block
and each seed's last value, and the step at which each moved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.claims.record import Record
from harness.report.figure_stats import UNIT, mean_sd
from harness.report.paper_values import PAPER_COLOR
from harness.report.plotting import finish, new_axes, seed_interval


def _layer_series(
    records: list[Record], key: str = "attn_id_layers", head: int | None = None
) -> tuple[list[int], list[list[list[float]]]]:
    """Checkpoint steps and, per block, per checkpoint, every seed's mass in head `head` (None: the
    mean over heads)."""
    recs = [r for r in records if not r.failed and getattr(r.history, key)]
    if not recs:
        return [], []
    steps = recs[0].history.steps

    def mass(r: Record, i: int, b: int) -> float:
        heads = getattr(r.history, key)[i][b]
        return sum(heads) / len(heads) if head is None else heads[head]

    L = len(getattr(recs[0].history, key)[0])
    series = [[[mass(r, i, b) for r in recs] for i in range(len(steps))] for b in range(L)]
    return steps, series


def _heads(records: list[Record], key: str) -> int:
    recs = [r for r in records if not r.failed and getattr(r.history, key)]
    return len(getattr(recs[0].history, key)[0][0]) if recs else 0


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
    """Per block, each head's and the head-averaged mass at the first and last checkpoints, every
    seed's last value (so one head that concentrates in some seeds is not averaged away) and the
    step each seed moved."""
    key, where = _layer_key(records)
    heads = [*range(_heads(records, key)), None]
    rows = []
    for head in heads:
        steps, series = _layer_series(records, key, head)
        for b, per_step in enumerate(series):
            m0, _ = mean_sd(per_step[0])
            m1, sd1 = mean_sd(per_step[-1])
            moved = ", ".join("-" if m is None else str(m) for m in move_steps(steps, per_step))
            rows.append(
                {
                    "block": b + 1,
                    "head": "mean" if head is None else head + 1,
                    "contexts": where,
                    f"mass at step {steps[0]}": m0,
                    f"mass at step {steps[-1]}": m1,
                    "sd over seeds": sd1,
                    "each seed at the end": " ".join(f"{v:.2f}" for v in per_step[-1]),
                    f"step each seed moved by >= {MOVE:g} (- never)": moved,
                }
            )
    return sorted(rows, key=lambda r: (r["block"], r["head"] == "mean", str(r["head"])))
