"""Argument validation: every bad value raises a one-line ValueError naming the argument."""

from __future__ import annotations

import pytest
import torch
from conftest import small_run

from harness.measure.pruning import prune_mask
from harness.training.trainer import train_ensemble
from harness.world.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from harness.world.patterns import in_domain_patterns
from harness.world.world import World


def raises_naming(name_regex: str, fn, *args, **kwargs) -> str:
    with pytest.raises(ValueError, match=name_regex) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg  # one line
    return msg


def test_defaults_are_valid_and_validate_returns_self():
    run = RunConfig()
    assert run.validate() is run
    assert (
        run.data.validate() is run.data
        and run.model.validate() is run.model
        and run.train.validate() is run.train
    )
    assert small_run().validate() is not None
    assert run.data.d == 40


def test_to_dict_from_dict_roundtrip():
    run = small_run(
        seed=7, data=dict(coherence_rel=0.1), model=dict(train_a=True), train=dict(eta=0.3)
    )
    assert RunConfig.from_dict(run.to_dict()) == run
    assert RunConfig.from_dict({}) == RunConfig()


# ---------------------------------------------------------------------------- DataConfig


@pytest.mark.parametrize("M1", [2, 0, -1])
def test_M1_below_three(M1):
    msg = raises_naming(r"^M1 must", DataConfig(M1=M1).validate)
    assert ">= 3" in msg and repr(M1) in msg


@pytest.mark.parametrize("alpha", [0, 0.0, 1.5, -0.2])
def test_alpha_outside_unit_interval(alpha):
    msg = raises_naming(r"^alpha must be in \(0, 1\]", DataConfig(alpha=alpha).validate)
    assert repr(alpha) in msg


def test_alpha_one_is_allowed():
    DataConfig(alpha=1.0, alpha_test=1.0).validate()


@pytest.mark.parametrize("alpha_test", [0, 1.01])
def test_alpha_test_outside_unit_interval(alpha_test):
    raises_naming(r"^alpha_test must", DataConfig(alpha_test=alpha_test).validate)


def test_M1_plus_M2_above_dX():
    msg = raises_naming(r"^M1 \+ M2 must be <= dX", DataConfig(M1=6, M2=25, dX=30).validate)
    assert "31" in msg
    DataConfig(M1=6, M2=24, dX=30).validate()  # equality is fine


@pytest.mark.parametrize(
    "name,value",
    [
        ("l_tr", 0),
        ("l_ts", -3),
        ("M2", 0),
        ("dX", 0),
        ("dY", 0),
        ("n_train_tasks", 0),
        ("M1_ood", 0),
        ("l_tr", 2.5),
        ("l_tr", True),
    ],
)
def test_non_positive_data_sizes(name, value):
    raises_naming(rf"^{name} must be a positive integer", DataConfig(**{name: value}).validate)


def test_n_train_tasks_multiple_of_M1_under_uniform_coverage():
    msg = raises_naming(
        r"^n_train_tasks must be a multiple of M1", DataConfig(M1=6, n_train_tasks=7).validate
    )
    assert "6" in msg
    # the same size is fine when coverage is not uniform
    DataConfig(M1=6, n_train_tasks=7, coverage="missing_pattern").validate()


def test_n_train_tasks_must_leave_unseen_tasks():
    raises_naming(
        r"^n_train_tasks must be < M1", DataConfig(M1=4, M2=4, dX=8, n_train_tasks=12).validate
    )


def test_non_positive_definite_coherences():
    data = DataConfig(M1=6, M2=6, dX=14, coherence_rel=-0.9)
    # each value is in (-1, 1): only the Gram matrix as a whole is invalid, and validate() says so
    raises_naming(
        r"^coherence_rel/coherence_irr/coherence_cross must be a combination giving a "
        r"positive-definite",
        data.validate,
    )
    raises_naming(r"coherence_rel", in_domain_patterns, data, 0)
    run = RunConfig(
        data=data, model=ModelConfig(m=4), train=TrainConfig(steps=1, n_eval=4, batch=2, chunk=1)
    )
    raises_naming(r"coherence_rel", World.build, run)
    raises_naming(r"coherence_rel", train_ensemble, [run])
    # positive-definite negative coherence is fine: 1 + (M1 - 1) c > 0 for c = -0.15
    in_domain_patterns(DataConfig(M1=6, M2=6, dX=14, coherence_rel=-0.15).validate(), 0)


@pytest.mark.parametrize("name", ["coherence_rel", "coherence_irr", "coherence_cross"])
@pytest.mark.parametrize("value", [1.0, -1.0, 1.5])
def test_coherence_range(name, value):
    raises_naming(rf"^{name} must be in \(-1, 1\)", DataConfig(**{name: value}).validate)


def test_S1_too_large_in_unit_norm_mode():
    # g = M1 // M1_ood = 2: |S1| <= sqrt(2)
    msg = raises_naming(
        r"^S1 must", DataConfig(M1=6, M1_ood=3, S1=1.5, ood_coef_mode="unit_norm").validate
    )
    assert "unit_norm" in msg
    raises_naming(
        r"^S1 must", DataConfig(M1=6, M1_ood=3, S1=-1.5, ood_coef_mode="unit_norm").validate
    )
    DataConfig(M1=6, M1_ood=3, S1=1.41, ood_coef_mode="unit_norm").validate()
    DataConfig(M1=6, M1_ood=3, S1=1.5, ood_coef_mode="spread").validate()


@pytest.mark.parametrize(
    "kw,name",
    [
        (dict(coverage="sometimes"), "coverage"),
        (dict(test_sampling="sorted"), "test_sampling"),
        (dict(coverage_pattern=6), "coverage_pattern"),
        (dict(coverage_pattern=-1), "coverage_pattern"),
        (dict(beta=0.0), "beta"),
        (dict(K=-0.1), "K"),
        (dict(K_ood=-0.1), "K_ood"),
        (dict(beta_jitter=1.0), "beta_jitter"),
        (dict(noise=-1.0), "noise"),
        (dict(M1_ood=2), "M1_ood"),
        (dict(M1_ood=7), "M1_ood"),
        (dict(ood_coef_mode="wide"), "ood_coef_mode"),
        (dict(ood_coef_spread=-0.1), "ood_coef_spread"),
        (dict(odi_outside=1.5), "odi_outside"),
    ],
)
def test_other_data_arguments(kw, name):
    raises_naming(rf"^{name} must", DataConfig(**kw).validate)


# ---------------------------------------------------------------------------- ModelConfig


@pytest.mark.parametrize("m", [0, -2])
def test_m_non_positive(m):
    raises_naming(r"^m must be a positive integer", ModelConfig(m=m).validate)


def test_m_odd():
    raises_naming(r"^m must be an even integer", ModelConfig(m=5).validate)


@pytest.mark.parametrize("delta", [0.0, -0.1, 0.21, 0.5])
def test_delta_outside_range(delta):
    msg = raises_naming(r"^delta must be in \(0, 0.2\]", ModelConfig(delta=delta).validate)
    assert repr(delta) in msg


def test_delta_edge_allowed():
    ModelConfig(delta=0.2).validate()


@pytest.mark.parametrize(
    "kw,name",
    [
        (dict(ma=-1), "ma"),
        (dict(mb=-3), "mb"),
        (dict(wo_std=0.0), "wo_std"),
        (dict(a_scale=-1.0), "a_scale"),
    ],
)
def test_other_model_arguments(kw, name):
    raises_naming(rf"^{name} must", ModelConfig(**kw).validate)


# ---------------------------------------------------------------------------- TrainConfig


@pytest.mark.parametrize(
    "name,value",
    [("batch", -1), ("eval_every", 0), ("n_eval", 0), ("chunk", 0)],
)
def test_non_positive_train_sizes(name, value):
    raises_naming(rf"^{name} must be a positive integer", TrainConfig(**{name: value}).validate)


@pytest.mark.parametrize("value", [-1, 10.0, True])
def test_steps_is_a_non_negative_integer(value):
    """0 steps is the model at initialisation (the init control); fewer, or not an integer, is an
    error."""
    raises_naming(r"^steps must be a non-negative integer", TrainConfig(steps=value).validate)
    assert TrainConfig(steps=0).validate().steps == 0


@pytest.mark.parametrize(
    "kw,name",
    [(dict(eta=0.0), "eta"), (dict(eta=-1.0), "eta"), (dict(loss_limit=0.0), "loss_limit")],
)
def test_other_train_arguments(kw, name):
    raises_naming(rf"^{name} must", TrainConfig(**kw).validate)


# ---------------------------------------------------------------------------- RunConfig / entry
# points


def test_run_validate_propagates_each_part():
    raises_naming(r"^alpha", RunConfig(data=DataConfig(alpha=0)).validate)
    raises_naming(r"^delta", RunConfig(model=ModelConfig(delta=0.3)).validate)
    raises_naming(r"^steps", RunConfig(train=TrainConfig(steps=-1)).validate)


def test_train_ensemble_validates_before_training():
    raises_naming(r"^batch", train_ensemble, [small_run(train=dict(batch=-1))])
    raises_naming(r"^alpha", train_ensemble, [small_run(data=dict(alpha=1.5))])


def test_unknown_pruning_mode():
    W = torch.randn(1, 4, 3)
    msg = raises_naming(r"pruning mode", prune_mask, W, 0.5, "biggest")
    assert "biggest" in msg
