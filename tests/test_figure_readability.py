"""Figures and report files a reader can read: the paper's line above the data, light floors,
labels from the claim's architecture and never broken mid-expression, one paper statement per
series, report files world-readable, and history from runs of the same profile only."""

from __future__ import annotations

import stat
from pathlib import Path

import matplotlib
import pytest
from conftest import make_record

from harness.claims.verdict import Estimate, Verdict
from harness.core import jsonio
from harness.measure.measurement import Measurement
from harness.report import figures, kind_figures
from harness.report.claim_report import write_report
from harness.report.figures import prune_xlabel
from harness.report.html import outcome_history
from harness.report.paper_values import PAPER, PAPER_COLOR
from harness.report.plotting import axis_label
from harness.world.config import DataConfig, ModelConfig, RunConfig

matplotlib.use("Agg")


def _capture(module, monkeypatch) -> list:
    """The axes each drawer of `module` hands to `finish` (the figure is not saved)."""
    seen: list = []
    monkeypatch.setattr(module, "finish", lambda fig, ax, *a, **k: seen.append(ax) or Path("x"))
    return seen


def _prune_record(arch: str, k: int = 0):
    return make_record(
        config=RunConfig(model=ModelConfig(arch=arch)),
        measurements=[
            Measurement({"prune.fraction": f, "prune.mode": m}, 100, k, 0, 0.0, 0.0)
            for f in (0.0, 0.1, 0.3)
            for m in ("small", "random", "large")
        ],
    )


@pytest.mark.parametrize(
    ("arch", "says", "never"),
    [("paper", "W_O rows", "deep"), ("deep", "last block", "W_O")],
)
def test_the_pruning_x_label_comes_from_the_architecture(arch, says, never, monkeypatch):
    recs = [_prune_record(arch), _prune_record(arch, 1)]
    label = prune_xlabel(recs)
    assert says in label and never not in label
    seen = _capture(figures, monkeypatch)
    figures.error_by_prune_mode(recs, "t", Path("unused.png"))
    assert seen[0].get_xlabel() == label


def _comparison(cid: str) -> Verdict:
    return Verdict(
        cid,
        "s",
        "st",
        "comparison",
        "quick",
        "INCONCLUSIVE",
        "p",
        "m",
        "o",
        2,
        5,
        details={"differences": [0.0] * 5, "a_mean": 0.0, "b_mean": 0.0},
        estimate=Estimate("mean", 0.0, -0.001, 0.001, 0.95, 0.0005, 5),
        predicted={"relation": "<=", "margin": 0.02},
        metric="hinge_loss",
    )


def test_the_paper_line_at_zero_is_drawn_above_the_data(monkeypatch):
    seen = _capture(kind_figures, monkeypatch)
    kind_figures.draw_comparison(_comparison("prune-small"), Path("unused.png"))
    (ax,) = seen
    paper = [ln for ln in ax.get_lines() if ln.get_label().startswith("paper")]
    assert paper, "no paper line"
    top_data = max(a.get_zorder() for a in ax.get_lines() + ax.collections if a not in paper)
    assert all(ln.get_zorder() > top_data for ln in paper)
    zero_lines = [ln for ln in ax.get_lines() if ln not in paper and set(ln.get_ydata()) == {0.0}]
    assert not [ln for ln in zero_lines if len(ln.get_xdata()) == 2], (
        "a zero line under the paper's"
    )
    assert matplotlib.colors.same_color(paper[0].get_color(), PAPER_COLOR)


def test_one_paper_statement_per_series():
    for cid, values in PAPER.items():
        assert sum(bool(pv.label) for pv in values) <= 1, cid


def test_the_floor_curves_are_light_and_do_not_set_the_y_range(monkeypatch):
    def rec(rep: int):
        pts = [
            ({"data.alpha_test": a, "data.l_ts": n, "baseline.method": m}, 2 if n < 4 else 0)
            for a in (0.2, 0.8)
            for n in (1, 2, 4, 8)
            for m in ("transformer", "knn1")
        ]
        return make_record(
            replicate=rep,
            config=RunConfig(data=DataConfig(alpha_test=0.2)),
            measurements=[Measurement(p, 100, k, 0, 0.0, 0.0) for p, k in pts],
        )

    seen = _capture(figures, monkeypatch)
    figures.error_by_test_length([rec(0), rec(1)], "t", Path("unused.png"))
    (ax,) = seen
    floors = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    data = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    assert floors and data
    assert all(ln.get_alpha() is not None and ln.get_alpha() <= 0.5 for ln in floors)
    assert max(ln.get_linewidth() for ln in floors) < min(ln.get_linewidth() for ln in data)
    assert ax.get_ylim()[1] < 0.2  # the measured errors (<= 0.02) set it, not the floors (~0.4)


@pytest.mark.parametrize(
    "text",
    [
        'hinge_loss[{"prune.fraction": 0.15}] - hinge_loss[{"prune.fraction": 0.0}]',
        "steps until the hinge loss on unseen tasks is <= eps (Theorem 3.3's T, x^(-2/3)) (log)",
    ],
)
def test_axis_labels_never_break_inside_an_expression(text):
    lines = axis_label(text, 30).split("\n")
    assert " ".join(lines) == text
    for line in lines:
        assert line.count("[") == line.count("]") and line.count("(") == line.count(")")
        assert line.count("{") == line.count("}")


def _verdict(cid: str, verdict: str = "CONFIRMED") -> Verdict:
    return Verdict(cid, "s", "st", "bound", "quick", verdict, "p", "m", "o", 1, 2)


def test_report_files_are_written_world_readable(tmp_path, monkeypatch):
    run = tmp_path / "runs" / "20260101T000000Z-aaaa-quick"
    write_report(run, [_verdict("c")], {"profile": "quick"}, robustness=None)
    for name in ("report.md", "report.html", "verdicts.json", "badge.json"):
        mode = stat.S_IMODE((run / name).stat().st_mode)
        assert mode == 0o666 & ~jsonio.UMASK, name
    if jsonio.UMASK == 0o022:
        assert stat.S_IMODE((run / "report.md").stat().st_mode) == 0o644


def test_the_sparkline_reads_earlier_runs_of_the_same_profile_only(tmp_path):
    runs = tmp_path / "runs"
    quick = runs / "20260101T000000Z-aaaa-quick"
    nightly = runs / "20260102T000000Z-bbbb-nightly"
    write_report(quick, [_verdict("c", "REFUTED")], {"profile": "quick"}, robustness=None)
    write_report(nightly, [_verdict("c", "ERROR")], {"profile": "nightly"}, robustness=None)
    assert outcome_history([quick, nightly], "quick") == {"c": ["REFUTED"]}
    new = runs / "20260103T000000Z-cccc-quick"
    write_report(new, [_verdict("c")], {"profile": "quick"}, robustness=None)
    page = (new / "report.html").read_text()
    assert "<title>REFUTED</title>" in page and "<title>ERROR</title>" not in page
