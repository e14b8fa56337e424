"""Fidelity to the paper (docs/paper.md): the qk projection probe, |T_tr| rules, one-label-side
coverage, pruning on OOD with the hinge loss, the combinatorial floor of the baselines."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import make_record, small_run
from test_fidelity import BOUND, _claim

from harness.claims.errors import ClaimError
from harness.claims.metrics import metric_rows
from harness.measure.baselines import chance_floor, no_match_probability
from harness.measure.ensemble import measure_ensemble
from harness.measure.probes import QK_FIELDS, qk_projection
from harness.training.trainer import History, init_ensemble, train_ensemble
from harness.world.config import DataConfig
from harness.world.tasks import coverage_counts, training_tasks
from harness.world.world import World


def test_qk_projection_at_identity_init():
    runs = [small_run(seed=s, data=dict(beta=2.0)) for s in range(3)]
    model = init_ensemble(runs, "cpu")
    worlds = [World.build(r) for r in runs]
    out = qk_projection(
        model, torch.stack([w.ind.relevant for w in worlds]), torch.stack([w.ind.q for w in worlds])
    )
    assert out.shape == (3, len(QK_FIELDS))
    delta = runs[0].model.delta
    torch.testing.assert_close(out[:, 0], torch.full((3,), delta * 2.0, dtype=torch.float64))
    torch.testing.assert_close(out[:, 1], torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(
        out[:, 2], torch.full((3,), delta * math.sqrt(5.0), dtype=torch.float64)
    )
    torch.testing.assert_close(
        out[:, 3], torch.full((3,), 2.0 / math.sqrt(5.0), dtype=torch.float64)
    )


def test_qk_recorded_at_every_checkpoint_and_read_by_the_metric(tmp_path):
    trained = train_ensemble([small_run(seed=0), small_run(seed=1)])
    h = trained.histories[0]
    assert len(h.qk) == len(h.steps) and all(len(e) == 4 for e in h.qk)
    body = (
        BOUND.replace('kind = "bound"', 'kind = "threshold"')
        .replace('"error_rate"', '"qk_projection"\nside = "key"\nquantity = "norm_gain"')
        .replace('domain = "id"\n', "")
        .replace("eps = 0.05", 'relation = ">="\nthreshold = 1.0')
    )
    c = _claim(tmp_path, body)
    (row,) = metric_rows(c, make_record(history=h))
    assert row.value == pytest.approx(h.qk[-1][2] / h.qk[0][2])
    with pytest.raises(ClaimError, match="metric.quantity"):
        _claim(tmp_path, body.replace('"norm_gain"', '"speed"'))


def test_pruning_measures_hinge_in_domain_and_ood():
    trained = train_ensemble([small_run(seed=0), small_run(seed=1)])
    points = [
        {},
        {"prune.fraction": 0.5, "prune.mode": "small"},
        {"prune.fraction": 0.5, "prune.mode": "random"},
    ]
    out = measure_ensemble(trained.model, trained.worlds, points, {"n_test": 64}, "cpu")
    for member in out:
        for m in member.measurements:
            for v in (m.hinge_loss_id, m.hinge_loss_ood, m.hinge_sd_id, m.hinge_sd_ood):
                assert v is not None and math.isfinite(v) and v >= 0
        assert member.measurements[1].hinge_loss_ood != member.measurements[0].hinge_loss_ood


@pytest.mark.parametrize(
    "M1,rule,n", [(6, "m1", 6), (6, "sqrt", 18), (10, "sqrt", 30), (17, "m1", 17)]
)
def test_train_task_rule_sets_the_covering_set(M1, rule, n):
    cfg = DataConfig(M1=M1, M2=4, dX=M1 + 4, train_task_rule=rule).validate()
    tr = training_tasks(cfg, 0)
    assert len(tr) == n == cfg.train_task_count
    assert len(tr) / (M1 * (M1 - 1)) >= ((M1 - 1) ** -0.5 if rule == "sqrt" else 0)
    counts = coverage_counts(tr, M1)
    assert bool((counts == counts[0, 0]).all())  # uniform: every pattern equally often on each side


def test_train_task_rule_errors_name_the_key():
    with pytest.raises(ValueError, match="^train_task_rule must"):
        DataConfig(train_task_rule="half").validate()
    with pytest.raises(ValueError, match=r"^n_train_tasks \(= 6 by train_task_rule='sqrt'\) must"):
        DataConfig(M1=3, M2=4, dX=8, train_task_rule="sqrt").validate()


def test_one_label_side_tests_the_missing_side():
    w = World.build(
        small_run(
            data=dict(
                coverage="one_label_side", coverage_pattern=1, n_train_tasks=4, test_on="other_side"
            )
        )
    )
    assert not bool((w.train_tasks[:, 1] == 1).any())
    b = w.test_prompts(64, w.eval_generator("t"))
    # every test task has pattern 1 as its -1 side: queries labelled -1 carry pattern 1
    assert bool((b.query_pattern[b.z < 0] == 1).all())


def test_no_match_probability_and_floor():
    assert no_match_probability("at_least", 0.3, 2) == 0.0 == no_match_probability("exact", 0.3, 2)
    assert no_match_probability("iid", 0.4, 3) == pytest.approx(0.8**3)
    assert chance_floor("iid", 0.4, 3) == pytest.approx(0.5 * 0.8**3)
    with pytest.raises(ValueError):
        no_match_probability("sorted", 0.4, 3)


def test_history_has_qk_field():
    assert History().qk == []


def test_steps_to_eps_on_the_hinge_loss(tmp_path):
    from test_verdicts_synthetic import RATE

    h = History(
        steps=[0, 100, 200],
        err_id=[50, 0, 0],
        err_ood=[50, 50, 50],
        attn_id=[0.4] * 3,
        attn_ood=[0.4] * 3,
        train_loss=[1.0] * 3,
        n_eval=100,
        hinge_id=[1.0, 0.4, 0.04],
        hinge_ood=[1.0] * 3,
    )
    assert (
        h.first_step_at_or_below(0.05, "err_id") == 100
        and h.first_step_at_or_below(0.05, "hinge_id") == 200
    )
    c = _claim(
        tmp_path,
        RATE.format(b0=-0.6667).replace("eps = 0.05", 'eps = 0.05\nthreshold_on = "hinge_loss"'),
    )
    (row,) = metric_rows(c, make_record(history=h, train_point={"data.alpha": 0.5}))
    assert row.value == 200 and not row.censored
    with pytest.raises(ClaimError, match="metric.threshold_on"):
        _claim(
            tmp_path,
            RATE.format(b0=-0.6667).replace("eps = 0.05", 'eps = 0.05\nthreshold_on = "loss"'),
        )
