"""The figure kind: a paper figure reproduced point by point, each world of a mixture judged
apart."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from harness.claims.errors import ClaimError
from harness.claims.grid import unit_seed
from harness.claims.kinds import KINDS
from harness.claims.kinds.figure import score
from harness.claims.metrics import Row
from harness.claims.schema import load_claim
from harness.world.mixtures import MIXTURE_FACTORS, tasks_inside_ood_groups

CLAIM = Path("claims/fig-prune-ood.toml")


def _claim(mixture: bool = False):
    c = load_claim(CLAIM, "quick")
    if mixture:
        return c
    return dataclasses.replace(c, metric={k: v for k, v in c.metric.items() if k != "mixture"})


def _rows(claim, scale: float | dict[int, float], n: int = 20000, reps: int = 4) -> list[Row]:
    """Rows at every grid point whose error is the paper's value there times `scale` (per
    replicate when a dict), the points off the paper's list at 0.01."""
    paper = {(p["x"], p["series"]): p["value"] for p in claim.prediction["points"]}
    rows = []
    for mode in claim.grid["prune.mode"]:
        for frac in claim.grid["prune.fraction"]:
            for r in range(reps):
                s = scale[r] if isinstance(scale, dict) else scale
                p = paper.get((frac, mode), 0.01) * s
                k = round(p * n)
                rows.append(
                    Row({"prune.mode": mode, "prune.fraction": frac}, k / n, replicate=r, k=k, n=n)
                )
    return rows


def judge(claim, rows):
    return KINDS.get("figure").judge(claim, rows)


def test_paper_values_confirm():
    v = judge(_claim(), _rows(_claim(), 1.0))
    assert v.verdict == "CONFIRMED"
    assert v.estimate.lower > 0.5 and v.estimate.upper < 2.0


def test_ten_times_the_paper_refutes():
    v = judge(_claim(), _rows(_claim(), 10.0))
    assert v.verdict == "REFUTED" and v.p_refute < 0.05
    assert v.estimate.lower > 2.0


def test_zero_error_on_many_prompts_refutes_but_never_zero_width():
    v = judge(_claim(), _rows(_claim(), 0.0))
    assert v.verdict == "REFUTED"
    world = v.details["worlds"][""]
    assert all(p["upper"] > 0 for p in world["points"])  # the prompts' resolution
    # the objective floors a measured 0 at its resolution, so it stays finite and large
    assert math.isfinite(v.details["score"]) and v.details["score"] > math.log(2)


def test_score_is_mean_abs_log_ratio():
    v = judge(_claim(), _rows(_claim(), 1.0))
    assert v.details["score"] < 0.05
    assert score([]) == math.inf


def test_few_prompts_leave_it_open():
    v = judge(_claim(), _rows(_claim(), 1.5, n=200))
    assert v.verdict == "INCONCLUSIVE"


def test_a_missing_point_is_an_error():
    c = _claim()
    rows = [r for r in _rows(c, 1.0) if r.point["prune.fraction"] != 0.4]
    assert judge(c, rows).verdict == "ERROR"


def test_mixture_worlds_are_judged_apart_not_averaged():
    c = _claim(mixture=True)
    level = MIXTURE_FACTORS.get("train_tasks_in_ood_group").level
    from harness.claims.claim import point_run

    reps = 8
    inside = {}
    for r in range(reps):
        seed = unit_seed(c, {}, r)
        inside[r] = level(point_run(c, {}, seed).data, seed) == "trains inside ODR groups"
    assert 0 < sum(inside.values()) < reps, "the default setting draws both worlds in 8 seeds"
    # the seeds inside ODR groups carry 20x the error; the others reproduce the figure
    rows = _rows(c, {r: 20.0 if inside[r] else 1.0 for r in range(reps)}, reps=reps)
    v = judge(c, rows)
    assert v.verdict == "REFUTED"
    worlds = v.details["worlds"]
    assert worlds["no task inside an ODR group"]["verdict"] == "CONFIRMED"
    assert worlds["trains inside ODR groups"]["verdict"] == "REFUTED"
    assert "mixture factor train_tasks_in_ood_group" in v.notes[0]
    # without the factor the same rows are one world, whose mean is a mixture
    assert list(judge(_claim(), rows).details["worlds"]) == [""]


def test_factor_counts_tasks_inside_groups():
    from harness.world.config import DataConfig

    counts = {tasks_inside_ood_groups(DataConfig(), s) for s in range(20)}
    assert counts == {0, 3}  # one cyclic shift: the +-1 shifts hold all three pairs
    assert {tasks_inside_ood_groups(DataConfig(ood_spread="one"), s) for s in range(20)} == {0}


@pytest.mark.parametrize(
    "edit, key",
    [
        ('{ x = 0.0, series = "small", value = 0.0 }', "prediction.points[0].value"),
        ('{ x = 0.05, series = "small", value = 0.01 }', "prediction.points[0].x"),
        ('{ x = 0.0, series = "smallest", value = 0.01 }', "prediction.points[0].series"),
        ("{ x = 0.0, value = 0.01 }", "prediction.points[0].series"),
        ('{ x = 0.0, series = "small", value = 0.01, err = 1 }', "prediction.points[0].err"),
    ],
)
def test_bad_points_name_the_key(tmp_path, edit, key):
    text = CLAIM.read_text()
    start = text.index("points = [")
    end = text.index("]\n", start) + 2
    bad = text[:start] + f"points = [\n  {edit},\n]\n" + text[end:]
    (tmp_path / "claims").mkdir()
    f = tmp_path / "claims" / "fig-prune-ood.toml"
    f.write_text(bad)
    (tmp_path / "claims" / "_base.toml").write_text(Path("claims/_base.toml").read_text())
    with pytest.raises(ClaimError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_claim(f, "quick")


def test_the_world_split_of_a_figure_carries_each_worlds_verdict_and_one_note():
    from harness.claims.world_split import judge_worlds

    c = _claim(mixture=True)
    reps = 8
    worlds = _world_of(c, reps)
    rows = _rows(c, {r: 20.0 if worlds[r] else 1.0 for r in range(reps)}, reps=reps)
    v = judge_worlds(c, rows, lambda rs: judge(c, rs))
    assert v.world_split.judged == "each"
    assert {w.level: w.verdict for w in v.world_split.levels} == {
        "no task inside an ODR group": "CONFIRMED",
        "trains inside ODR groups": "REFUTED",
    }
    assert not any(n.startswith("mixture: the seeds fall") for n in v.notes)


def _world_of(c, reps: int) -> dict[int, bool]:
    from harness.claims.claim import point_run

    level = MIXTURE_FACTORS.get("train_tasks_in_ood_group").level
    return {
        r: level(point_run(c, {}, unit_seed(c, {}, r)).data, unit_seed(c, {}, r))
        == "trains inside ODR groups"
        for r in range(reps)
    }


def test_a_worlds_refutation_that_fails_bonferroni_over_the_worlds_is_undecided(monkeypatch):
    from harness.claims.kinds import figure

    c = _claim(mixture=True)
    reps = 8
    worlds = _world_of(c, reps)
    rows = _rows(c, {r: 20.0 if worlds[r] else 1.0 for r in range(reps)}, reps=reps)
    real = figure.decide
    # one world refutes at p = 0.04: below alpha alone, not after x 2 worlds
    monkeypatch.setattr(
        figure, "decide", lambda pts: ("REFUTED", 0.04) if real(pts)[0] == "REFUTED" else real(pts)
    )
    v = judge(c, rows)
    assert v.verdict == "INCONCLUSIVE"
    assert any("not after Bonferroni over 2 worlds" in n for n in v.notes)
