"""Paper-comparison figures drawn from synthetic records: a PNG when the records hold the figure's numbers, None otherwise."""

from __future__ import annotations

import pytest

from harness.measure.measurement import Measurement
from harness.report.figures import FIGURES, draw, table
from harness.training.trainer import History
from harness.world.config import DataConfig, RunConfig

from conftest import make_record


def _record(points: list[tuple[dict, int]], failed: bool = False):
    return make_record(failed=failed, config=RunConfig(data=DataConfig(alpha_test=0.8)),
                       history=History(steps=[0, 10, 20], attn_id=[0.4, 0.7, 0.9], attn_ood=[0.4, 0.5, 0.6]),
                       measurements=[Measurement(p, 100, k, 0, 0.0, 0.0) for p, k in points])


def test_error_by_test_length_one_line_per_alpha(tmp_path):
    recs = [_record([({"data.alpha_test": a, "data.l_ts": l}, max(0, 40 - int(100 * a) - l)) for a in (0.3, 0.8) for l in (2, 4, 8, 16)])
            for _ in range(2)]
    out = draw("error_by_test_length", recs, "t", tmp_path / "f.png")
    assert out == tmp_path / "f.png" and out.stat().st_size > 1000
    assert draw("error_by_test_length", [_record([({"prune.fraction": 0.1}, 3)])], "t", tmp_path / "g.png") is None
    assert table("error_by_test_length", recs) == []


def test_every_figure_draws_or_declines(tmp_path):
    recs = [_record([({"prune.fraction": f, "prune.mode": m}, int(10 * f)) for f in (0.0, 0.5) for m in ("small", "large")])]
    assert draw("attention_curve", recs, "t", tmp_path / "a.png").exists()
    assert draw("error_by_prune_mode", recs, "t", tmp_path / "p.png").exists()
    for kind in FIGURES:  # failed records are never drawn
        assert draw(kind, [_record([], failed=True)], "t", tmp_path / f"{kind}.png") is None
    with pytest.raises(ValueError, match="figure must be one of"):
        draw("no-such-figure", recs, "t", tmp_path / "x.png")
