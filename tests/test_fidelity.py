"""Fidelity to the paper (docs/paper.md): hinge loss, at-least test sampling, OOD readings, claim
form."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_record, small_run, write_claim
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pruning_probes import _model_and_batch
from test_verdicts_synthetic import BOUND, RATE, _steps_records

from harness.claims import stats
from harness.claims.errors import ClaimError
from harness.claims.mean_bound import mean_bound_decision, mean_point_bound
from harness.claims.metrics import metric_rows
from harness.claims.schema import load_claim
from harness.claims.verdicts import judge
from harness.measure.evaluation import evaluate
from harness.measure.measurement import Measurement
from harness.world.config import DataConfig, RunConfig
from harness.world.patterns import (
    OOD_READINGS,
    OOD_RENORMALISE,
    in_domain_patterns,
    ood_patterns,
    ood_reading,
)
from harness.world.prompts import same_pattern_floor
from harness.world.seeding import generator
from harness.world.world import World


def _claim(tmp_path: Path, body: str, name: str = "synthetic", replicates: int = 4):
    p = write_claim(
        tmp_path,
        name,
        f'id = "{name}"\nsource = "test"\nstatement = "synthetic"\n'
        + body
        + f"\n[profiles.quick]\nreplicates = {replicates}\n"
        + f"[profiles.nightly]\nreplicates = {replicates}\n",
    )
    return load_claim(p, "quick")


# ---- hinge loss
# ----------------------------------------------------------------------


def test_evaluate_hinge_matches_manual():
    model, batch = _model_and_batch(n=50)
    res = evaluate(model, batch, chunk=7)
    with torch.no_grad():
        F = model(batch.P)
    h = (1 - batch.z * F).clamp_min(0).double()
    torch.testing.assert_close(res.hinge_loss, h.mean(-1))
    torch.testing.assert_close(res.hinge_sd, h.std(-1, unbiased=True))


def test_hinge_metric_rows_read_the_domain(tmp_path):
    body = (
        BOUND.replace('kind = "bound"', 'kind = "threshold"')
        .replace('"error_rate"', '"hinge_loss"')
        .replace('"id"', '"ood"')
        .replace("eps = 0.05", 'relation = "<="\nthreshold = 0.5')
    )
    c = _claim(tmp_path, body)
    m = Measurement(
        {"data.l_ts": 20},
        100,
        3,
        4,
        0.9,
        0.9,
        hinge_loss_id=0.1,
        hinge_loss_ood=0.3,
        hinge_sd_id=0.2,
        hinge_sd_ood=0.4,
    )
    (row,) = metric_rows(c, make_record(measurements=[m]))
    assert (row.value, row.sd, row.n) == (0.3, 0.4, 100)


def test_mean_point_bound_by_hand():
    # three seeds: means 0.1, 0.2, 0.3 (sd over prompts 0.5, n = 100): t over seeds, 2 dof
    b = mean_point_bound([(0.1, 0.5, 100), (0.2, 0.5, 100), (0.3, 0.5, 100)], eps=0.5)
    se = 0.1 / math.sqrt(3)
    t = 2.919985580353725  # t_{0.95, 2}
    assert b.mean == pytest.approx(0.2) and b.se == pytest.approx(se) and b.dof == 2
    assert b.upper == pytest.approx(0.2 + t * se) and b.lower == pytest.approx(0.2 - t * se)
    # identical seeds: floored at the prompt noise, never a zero-width interval
    flat = mean_point_bound([(0.2, 0.5, 100)] * 4, eps=0.5)
    assert flat.se == pytest.approx(math.sqrt(0.25 / 100 / 4))
    # one seed: over its prompts
    one = mean_point_bound([(0.2, 0.5, 100)], eps=0.5)
    assert one.dof == 99 and one.se == pytest.approx(0.05)


HINGE_BOUND = (
    BOUND.replace("[20]", "[10, 20]")
    .replace('"error_rate"', '"hinge_loss"')
    .replace("eps = 0.05", "eps = 0.3")
)


@pytest.mark.parametrize(
    "means,expected",
    [
        ((0.10, 0.12, 0.09, 0.11), "CONFIRMED"),
        ((0.60, 0.65, 0.62, 0.58), "REFUTED"),
        ((0.25, 0.40, 0.20, 0.35), "INCONCLUSIVE"),
    ],
)
def test_hinge_bound_verdicts(tmp_path, means, expected):
    c = _claim(tmp_path, HINGE_BOUND)
    recs = [
        make_record(
            key=str(r),
            replicate=r,
            measurements=[
                Measurement(
                    {"data.l_ts": lt},
                    1000,
                    0,
                    0,
                    0.9,
                    0.9,
                    hinge_loss_id=m,
                    hinge_loss_ood=m,
                    hinge_sd_id=0.3,
                    hinge_sd_ood=0.3,
                )
                for lt in (10, 20)
            ],
        )
        for r, m in enumerate(means)
    ]
    v = judge(c, recs)
    assert v.verdict == expected, v.line()
    assert v.estimate.name.startswith("hinge loss") and v.estimate.n == 4
    assert "t" in v.over and "seeds" in v.over


def test_hinge_bound_nan_is_error_and_eps_is_not_capped_at_one(tmp_path):
    c = _claim(tmp_path, HINGE_BOUND.replace("eps = 0.3", "eps = 1.5"))
    recs = [
        make_record(
            key=str(r),
            replicate=r,
            measurements=[Measurement({"data.l_ts": 10}, 10, 0, 0, 0.9, 0.9)],
        )
        for r in range(2)
    ]
    assert judge(c, recs).verdict == "ERROR"


def test_mean_bound_decision_bonferroni():
    pts = [[(0.31, 0.3, 1000)] * 3] * 10  # barely above eps at ten points
    assert mean_bound_decision(pts, eps=0.3).verdict in ("INCONCLUSIVE", "REFUTED")
    assert mean_bound_decision([[(0.1, 0.3, 1000)] * 3], eps=0.3).verdict == "CONFIRMED"


# ---- at_least test sampling
# ------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    l=st.integers(1, 12),
    alpha=st.floats(0.05, 1.0),
    seed=st.integers(0, 50),
    domain=st.sampled_from(["id", "ood"]),
)
def test_at_least_floor_holds_for_every_prompt(l, alpha, seed, domain):
    w = World.build(small_run(seed=seed % 5, data=dict(l_ts=l, alpha_test=alpha)))
    assert w.cfg.test_sampling == "at_least"  # the default for test prompts
    b = w.test_prompts(64, generator(seed), domain=domain)
    need = same_pattern_floor(alpha, l)
    assert int(b.same_as_query.sum(-1).min()) >= need >= 1
    # same-pattern contexts carry the query's label
    q = (w.ind if domain == "id" else w.ood).q.float()
    y = b.P[:, :-1, w.cfg.dX :] @ q
    assert bool(((y.sign() == b.z[:, None]) | ~b.same_as_query).all())
    again = w.test_prompts(64, generator(seed), domain=domain)
    assert torch.equal(b.P, again.P)  # deterministic from the generator


def test_iid_stays_an_option_and_can_leave_none():
    w = World.build(small_run(data=dict(l_ts=2, alpha_test=0.2, test_sampling="iid")))
    b = w.test_prompts(2000, generator(0))
    none = float((b.same_as_query.sum(-1) == 0).double().mean())
    assert none == pytest.approx((1 - 0.1) ** 2, abs=0.03)


def test_same_pattern_floor_is_exact_on_round_products():
    assert (
        same_pattern_floor(0.8, 20) == 8
        and same_pattern_floor(0.3, 3) == 1
        and same_pattern_floor(1.0, 5) == 3
    )


# ---- OOD readings
# ----------------------------------------------------------------------


@pytest.mark.parametrize("spread", sorted(OOD_READINGS))
@pytest.mark.parametrize("renormalise", [False, True])
def test_ood_readings_sum_to_S1_and_renormalised_norm_is_beta(spread, renormalise):
    S1 = 1.0 if (spread == "one" and renormalise) else 0.7
    cfg = DataConfig(ood_spread=spread, ood_renormalise=renormalise, S1=S1, beta=2.0).validate()
    ood = ood_patterns(cfg, in_domain_patterns(cfg, 3), 3)
    torch.testing.assert_close(ood.coef.sum(1), torch.full((cfg.M1_ood,), S1, dtype=torch.float64))
    used = (ood.coef != 0).sum(1)
    assert used.tolist() == [{"one": 1, "pair": 2, "all": cfg.M1}[spread]] * cfg.M1_ood
    if renormalise:
        torch.testing.assert_close(
            ood.relevant.norm(dim=1), torch.full((cfg.M1_ood,), 2.0, dtype=torch.float64)
        )
    elif spread == "one":
        torch.testing.assert_close(
            ood.relevant.norm(dim=1), torch.full((cfg.M1_ood,), 2.0 * S1, dtype=torch.float64)
        )
    assert OOD_READINGS[spread] in ood_reading(cfg) and OOD_RENORMALISE[renormalise] in ood_reading(
        cfg
    )


def test_pair_reading_is_the_previous_construction():
    cfg = DataConfig()
    legacy = DataConfig(ood_coef_mode="unit_norm", S1=1.2)
    assert cfg.ood_spread == "pair" and not cfg.ood_renormalise and legacy.renormalised
    C = ood_patterns(cfg, in_domain_patterns(cfg, 0), 0).coef
    assert (C[:, :2] != 0).all(dim=1)[0] and (C[0, 2:] == 0).all()


@pytest.mark.parametrize(
    "kw,key",
    [
        (dict(ood_spread="one", ood_renormalise=True, S1=0.7), "S1"),
        (dict(ood_spread="pair", ood_renormalise=True, S1=1.5), "S1"),
        (dict(ood_spread="many"), "ood_spread"),
    ],
)
def test_ood_reading_combinations_are_checked(kw, key):
    with pytest.raises(ValueError, match=rf"^{key} must"):
        DataConfig(**kw).validate()


# ---- claim form
# ----------------------------------------------------------------------


def _sufficient(b0: float, limit: str | None = None) -> str:
    body = RATE.format(b0=b0)
    body = 'form = "sufficient"\n' + body
    return body + (f'limit = "{limit}"\n' if limit else "")


@pytest.mark.parametrize(
    "true_b,b0,limit,expected",
    [
        # grows more slowly than alpha^(-2/3): fine for a sufficient condition
        (-0.3, -0.6667, None, "CONFIRMED"),
        (-0.6667, -0.6667, None, "CONFIRMED"),
        (-1.5, -0.6667, None, "REFUTED"),  # grows faster than allowed
        (-3.0, -2.0, "upper", "CONFIRMED"),  # falls faster than beta^-2 as beta grows: fine
        (-1.0, -2.0, "upper", "REFUTED"),
    ],
)
def test_sufficient_rate_is_one_sided(tmp_path, true_b, b0, limit, expected):
    c = _claim(tmp_path, _sufficient(b0, limit))
    assert c.form == "sufficient"
    v = judge(
        c,
        _steps_records(
            [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0], true_b, 4, 0.05, np.random.default_rng(7)
        ),
    )
    assert v.verdict == expected, v.line()
    assert "sufficient" in v.prediction and any(n.startswith("form sufficient") for n in v.notes)


def test_tight_form_refutes_a_slower_growth(tmp_path):
    c = _claim(tmp_path, RATE.format(b0=-0.6667))
    assert c.form == "tight"
    v = judge(
        c,
        _steps_records(
            [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0], -0.3, 4, 0.05, np.random.default_rng(7)
        ),
    )
    assert v.verdict == "REFUTED"


def test_rate_decision_sufficient_inconclusive_between():
    fit = stats.fit_power_law(np.array([0.2, 0.4, 0.6, 0.8, 1.0]), np.log([10, 5.5, 3, 2.6, 2.0]))
    # the point estimate just beyond the lower limit, intervals straddle it
    edge = fit.exponent + 0.01
    assert stats.rate_decision_sufficient(fit, edge, 0.0)[0] == "INCONCLUSIVE"


@pytest.mark.parametrize(
    "extra,key",
    [
        ('form = "loose"\n', "form"),
        ("", "prediction.limit"),
        ('form = "tight"\n', "prediction.limit"),
        ('form = "sufficient"\n[readings]\nood = 3\n', "readings.ood"),
    ],
)
def test_form_errors_name_file_and_key(tmp_path, extra, key):
    body = RATE.format(b0=-0.6667)
    if key == "prediction.limit":
        body += 'limit = "lower"\n'
    if extra.startswith('form = "sufficient"\n[readings]'):
        body = 'form = "sufficient"\n' + body + "[readings]\nood = 3\n"
    else:
        body = extra + body
    with pytest.raises(ClaimError, match=rf"synthetic.toml: {key}:"):
        _claim(tmp_path, body)


def test_readings_are_kept(tmp_path):
    c = _claim(
        tmp_path,
        'form = "sufficient"\n'
        + RATE.format(b0=-0.6667)
        + '[readings]\nood_spread = "pair: the paper figure"\n',
    )
    assert c.readings == {"ood_spread": "pair: the paper figure"}
    assert isinstance(RunConfig().data.test_sampling, str)


def test_hinge_bound_figure_is_drawn(tmp_path):
    from harness.report.kind_figures import draw_bound

    c = _claim(tmp_path, HINGE_BOUND)
    recs = [
        make_record(
            key=str(r),
            replicate=r,
            measurements=[
                Measurement(
                    {"data.l_ts": lt},
                    1000,
                    0,
                    0,
                    0.9,
                    0.9,
                    hinge_loss_id=0.1 + r / 100,
                    hinge_loss_ood=0.1,
                    hinge_sd_id=0.3,
                    hinge_sd_ood=0.3,
                )
                for lt in (10, 20)
            ],
        )
        for r in range(3)
    ]
    out = draw_bound(judge(c, recs), tmp_path / "bound.png")
    assert out is not None and out.stat().st_size > 0


def test_sufficient_bound_at_every_point_as_compound_axis(tmp_path):
    """'hinge loss <= eps at l_tr = c / alpha for every alpha' (c = 8): the (alpha, l_tr) pairs as
    one compound axis."""
    body = """form = "sufficient"
kind = "bound"
[grid]
"data.alpha,data.l_tr" = [[0.2, 40], [0.4, 20], [0.8, 10]]
[metric]
name = "hinge_loss"
domain = "id"
[prediction]
eps = 0.3
"""
    c = _claim(tmp_path, body, replicates=3)
    assert c.axis_names == ["data.alpha", "data.l_tr"] and c.form == "sufficient"
    pts = [{"data.alpha": a, "data.l_tr": lt} for a, lt in ((0.2, 40), (0.4, 20), (0.8, 10))]
    recs = [
        make_record(
            key=f"{i}-{r}",
            train_point=p,
            replicate=r,
            measurements=[
                Measurement(
                    {},
                    1000,
                    0,
                    0,
                    0.9,
                    0.9,
                    hinge_loss_id=0.1 + (0.5 if i == 2 else 0.0) + r / 100,
                    hinge_loss_ood=0.1,
                    hinge_sd_id=0.3,
                    hinge_sd_ood=0.3,
                )
            ],
        )
        for i, p in enumerate(pts)
        for r in range(3)
    ]
    v = judge(c, recs)
    assert v.verdict == "REFUTED" and "data.alpha=0.8" in v.measurement, v.line()
