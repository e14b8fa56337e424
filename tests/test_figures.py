"""Paper-comparison figures drawn from synthetic records: a PNG when the records hold the figure's
numbers, None otherwise."""

from __future__ import annotations

import pytest
from conftest import make_record

from harness.measure.measurement import Measurement
from harness.report.figures import FIGURES, draw, table
from harness.training.trainer import History
from harness.world.config import DataConfig, RunConfig


def _record(points: list[tuple[dict, int]], failed: bool = False):
    return make_record(
        failed=failed,
        config=RunConfig(data=DataConfig(alpha_test=0.8)),
        history=History(steps=[0, 10, 20], attn_id=[0.4, 0.7, 0.9], attn_ood=[0.4, 0.5, 0.6]),
        measurements=[Measurement(p, 100, k, 0, 0.0, 0.0) for p, k in points],
    )


def test_error_by_test_length_one_line_per_alpha(tmp_path):
    recs = [
        _record(
            [
                ({"data.alpha_test": a, "data.l_ts": l}, max(0, 40 - int(100 * a) - l))
                for a in (0.3, 0.8)
                for l in (2, 4, 8, 16)
            ]
        )
        for _ in range(2)
    ]
    out = draw("error_by_test_length", recs, "t", tmp_path / "f.png")
    assert out == tmp_path / "f.png" and out.stat().st_size > 1000
    assert (
        draw(
            "error_by_test_length",
            [_record([({"prune.fraction": 0.1}, 3)])],
            "t",
            tmp_path / "g.png",
        )
        is None
    )
    assert table("error_by_test_length", recs) == []


def test_every_figure_draws_or_declines(tmp_path):
    recs = [
        _record(
            [
                ({"prune.fraction": f, "prune.mode": m}, int(10 * f))
                for f in (0.0, 0.5)
                for m in ("small", "large")
            ]
        )
    ]
    assert draw("attention_curve", recs, "t", tmp_path / "a.png").exists()
    assert draw("error_by_prune_mode", recs, "t", tmp_path / "p.png").exists()
    for kind in FIGURES:  # failed records are never drawn
        assert draw(kind, [_record([], failed=True)], "t", tmp_path / f"{kind}.png") is None
    with pytest.raises(ValueError, match="figure must be one of"):
        draw("no-such-figure", recs, "t", tmp_path / "x.png")


# --- kind figures: one per claim, drawn from its verdict
# ---------------------------------------------------------

import math  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from harness.claims.kinds import KINDS  # noqa: E402
from harness.claims.metrics import Row  # noqa: E402
from harness.loading import load_claims  # noqa: E402
from harness.measure.measurement import Probes  # noqa: E402
from harness.report.kind_figures import KIND_FIGURES, draw_kind_figure, proportion_clip  # noqa: E402
from harness.report.plotting import is_geometric, t_interval  # noqa: E402

CLAIMS = sorted(
    p
    for p in (Path(__file__).parent.parent / "claims").glob("*.toml")
    if not p.name.startswith("_")
)


def synthetic_rows(claim) -> list[Row]:
    """Three seeds of plausible metric rows for `claim`, shaped by its kind (what its judge
    reads)."""
    m, pred, out = claim.metric, claim.prediction, []
    for rep in range(3):
        noise = 1.0 + 0.05 * (rep - 1)
        if claim.kind == "rate":
            out += [
                Row({m["x"]: x}, 50.0 * x ** pred["exponent"] * noise, replicate=rep)
                for x in (0.2, 0.3, 0.5, 0.8)
            ]
        elif claim.kind == "bound":
            out += [
                Row(
                    {"data.l_ts": l},
                    (1 + rep) / 200,
                    replicate=rep,
                    k=1 + rep,
                    n=200,
                    sd=0.05 if m["name"] == "hinge_loss" else None,
                )
                for l in (10, 20, 40)
            ]
        elif claim.kind == "comparison":
            out += [
                Row(dict(m["a"]), 0.05 * noise, replicate=rep),
                Row(dict(m["b"]), 0.04, replicate=rep),
            ]
        elif claim.kind == "trend":
            sign = 1 if pred["direction"] == "increasing" else -1
            out += [
                Row(
                    {m["x"]: x},
                    min(1.0, max(0.0, 0.3 + sign * 0.1 * i + 0.08 * (rep - 1))),
                    replicate=rep,
                )
                for i, x in enumerate((1, 2, 4, 8))
            ]
        elif claim.kind == "threshold":
            out += [Row({}, pred["threshold"] * noise, replicate=rep)]
        elif claim.kind == "figure":
            for i, x in enumerate(claim.grid[m["x"]]):
                for j, s in enumerate(claim.grid[m["series"]]):
                    k = 5 + 3 * i + j + rep
                    out.append(
                        Row({m["x"]: x, m["series"]: s}, k / 2000, replicate=rep, k=k, n=2000)
                    )
    return out


@pytest.mark.parametrize("path", CLAIMS, ids=lambda p: p.stem)
def test_every_claim_gets_a_kind_figure(path, tmp_path):
    claim = load_claims([path], "quick")[0]
    assert claim.kind in KIND_FIGURES, f"no kind figure for {claim.kind!r}"
    v = KINDS.get(claim.kind).judge(claim, synthetic_rows(claim))
    out = draw_kind_figure(v, tmp_path / f"{claim.id}.png")
    assert out is not None and out.stat().st_size > 5000, f"{claim.id}: {v.verdict} {v.notes}"


def test_every_registered_kind_has_a_drawer():
    assert set(KINDS.names()) <= set(KIND_FIGURES.names())


def test_an_error_verdict_draws_nothing(tmp_path):
    claim = load_claims([CLAIMS[0]], "quick")[0]
    from harness.claims.kinds.base import error_verdict

    assert draw_kind_figure(error_verdict(claim, "all runs diverged"), tmp_path / "e.png") is None


def test_intervals_of_rates_are_clipped_and_others_are_not():
    assert t_interval(0.01, 0.05, 3, clip=(0.0, 1.0))[0] == 0.0
    assert t_interval(0.99, 0.05, 3, clip=(0.0, 1.0))[1] == 1.0
    lo, hi = t_interval(0.01, 0.05, 3)
    assert lo < 0 < hi and math.isclose(0.01 - lo, hi - 0.01)
    assert t_interval(0.5, math.nan, 1) == (0.5, 0.5)
    by_id = {c.id: c for c in load_claims(CLAIMS, "quick")}
    for cid, clipped in (
        ("ood-s1-trend", True),
        ("attn-concentration", True),
        ("mlp-bimodal-norms", False),
        ("iters-alpha", False),
    ):
        c = by_id[cid]
        v = KINDS.get(c.kind).judge(c, synthetic_rows(c))
        assert (proportion_clip(v) == (0.0, 1.0)) is clipped, cid


def test_trend_intervals_drawn_for_an_error_rate_stay_in_unit_interval(tmp_path):
    """An error rate near 0 with a large spread: the drawn bar must not reach below 0."""
    claim = next(c for c in load_claims(CLAIMS, "quick") if c.id == "ood-s1-trend")
    rows = [
        Row({"data.S1": s}, v, replicate=r)
        for s in (0.5, 1.0, 1.5)
        for r, v in enumerate((0.0, 0.0, 0.3 if s < 1 else 0.02))
    ]
    v = KINDS.get("trend").judge(claim, rows)
    import matplotlib.pyplot as plt

    from harness.report import kind_figures

    seen = []
    original = kind_figures.finish
    kind_figures.finish = lambda fig, ax, title, path, outside=False: (
        seen.append([ln.get_ydata() for ln in ax.lines]) or original(fig, ax, title, path, outside)
    )
    try:
        assert draw_kind_figure(v, tmp_path / "t.png") is not None
    finally:
        kind_figures.finish = original
    plt.close("all")
    ys = [y for lines in seen for ydata in lines for y in ydata]
    assert ys and min(ys) >= 0.0 and max(ys) <= 1.0


@pytest.mark.parametrize(
    "grid, geometric",
    [
        ([1, 2, 4, 8, 16, 32, 64], True),
        ([2, 4, 8, 16, 64], True),
        ([5, 10, 20, 40], True),
        ([0.0, 0.2, 0.4, 0.6], False),
        ([0.5, 0.7, 0.9, 1.0, 1.5], False),
        ([1, 2], False),
        ([1, 2, 3, 4, 5], False),
        ([1, 2, 100], False),
    ],
)
def test_geometric_grid_detection(grid, geometric):
    assert is_geometric(grid) is geometric


def test_row_norm_histogram_draws_from_row_norms_and_declines_without(tmp_path):
    norms = [0.05 + 0.001 * i for i in range(48)] + [1.0 + 0.01 * i for i in range(16)]
    recs = [
        make_record(
            replicate=i, probes=Probes(0.9, 0.8, 0.25, 20.0, [x * (1 + 0.1 * i) for x in norms])
        )
        for i in range(3)
    ]
    out = draw("row_norm_histogram", recs, "t", tmp_path / "h.png")
    assert out == tmp_path / "h.png" and out.stat().st_size > 5000
    assert draw("row_norm_histogram", [make_record()], "t", tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_probes_row_norms_round_trip_and_are_type_checked():
    from harness.core.fields import RecordError

    p = Probes(0.9, 0.8, 0.25, 20.0, [0.1, 2.0])
    assert Probes.from_json(p.to_json()) == p
    with pytest.raises(RecordError, match="row_norms"):
        Probes.from_json({**p.to_json(), "row_norms": ["x"]})
    with pytest.raises(RecordError, match="missing field row_norms"):
        Probes.from_json({k: v for k, v in p.to_json().items() if k != "row_norms"})


def test_attention_curve_names_the_s1_it_is_judged_at(tmp_path):
    recs = [_record([({"data.S1": 1.5}, 0)]) for _ in range(2)]
    from harness.report import figures

    titles = []
    original = figures.finish
    figures.finish = lambda fig, ax, title, path, outside=False: (
        titles.append(title) or original(fig, ax, title, path, outside)
    )
    try:
        assert draw("attention_curve", recs, "c", tmp_path / "a.png") is not None
    finally:
        figures.finish = original
    assert "judged at S1 = 1.5" in titles[0] and "training S1 = 1" in titles[0]


def test_rate_figure_without_a_fit_still_draws_the_points(tmp_path):
    claim = next(c for c in load_claims(CLAIMS, "quick") if c.id == "iters-alpha")
    v = KINDS.get("rate").judge(claim, synthetic_rows(claim))
    v.details.update(exponent=math.nan, intercept=math.nan)
    assert draw_kind_figure(v, tmp_path / "r.png") is not None
    v.details["points"] = []
    assert draw_kind_figure(v, tmp_path / "none.png") is None


def test_a_sufficient_rate_accepts_one_side_of_its_edge():
    """A tight rate accepts b0 +- margin; a sufficient one (tested one-sided) everything on the
    allowed side of its edge, and the figures draw it so (an edge, not a two-sided band)."""
    import math

    from harness.report.plotting import accepted_exponents

    assert accepted_exponents({"exponent": -2.0, "margin": 0.4})[:2] == (-2.4, -1.6)
    lo, hi, text = accepted_exponents({"exponent": -1.0, "margin": 0.25, "limit": "lower"})
    assert (lo, hi) == (-1.25, math.inf) and text.startswith("sufficient: b >= -1.25")
    lo, hi, text = accepted_exponents({"exponent": -2.0, "margin": 0.4, "limit": "upper"})
    assert (lo, hi) == (-math.inf, -1.6) and text.startswith("sufficient: b <= -1.6")
