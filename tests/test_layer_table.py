"""The deep model's per-layer table: every head of every block, with each seed's last value, so one
head that concentrates in some seeds is not averaged away."""

from __future__ import annotations

import pytest
from conftest import make_record

from harness.report.figures_layers import attention_by_layer_table
from harness.training.trainer import History


def _history(last_head_mass: float) -> History:
    h = History()
    h.steps = [0, 100]
    # (checkpoint, block, head): block 1 head 1 moves to `last_head_mass`, everything else stays
    h.attn_ood_layers = [[[0.4, 0.4], [0.4, 0.4]], [[last_head_mass, 0.4], [0.4, 0.4]]]
    return h


def test_each_head_is_listed_with_every_seeds_last_value():
    records = [make_record(replicate=r, history=_history(m)) for r, m in enumerate((0.85, 0.4))]
    rows = attention_by_layer_table(records)
    assert [(r["block"], r["head"]) for r in rows] == [
        (1, 1), (1, 2), (1, "mean"), (2, 1), (2, 2), (2, "mean")
    ]  # fmt: skip
    head = rows[0]
    assert head["contexts"] == "OOD"
    assert head["mass at step 100"] == pytest.approx((0.85 + 0.4) / 2)
    assert head["each seed at the end"] == "0.85 0.40"
    assert head["step each seed moved by >= 0.1 (- never)"] == "100, -"
    assert rows[2]["mass at step 100"] == pytest.approx((0.85 + 0.4 + 0.4 + 0.4) / 4)
    assert rows[1]["step each seed moved by >= 0.1 (- never)"] == "-, -"
