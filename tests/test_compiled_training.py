"""The opt-in torch.compile path (ICLCHECK_COMPILE): same prompts, same loss and gradients, same
trained weights as the eager path to float tolerance, and identical from one compiled run to the
next."""

from __future__ import annotations

import pytest
import torch
from conftest import small_run
from test_training import PARAMS, assert_weights_close, relative_change

from harness.training.runtime import COMPILE_ENV, compile_enabled
from harness.training.stream import TrainingStream, torch_compiled
from harness.training.trainer import init_ensemble, train_ensemble
from harness.world.prompts import N_UNIFORMS, factor_prompts
from harness.world.world import World
from models.icl_transformer import factored_hinge_loss_and_grads

pytestmark = pytest.mark.slow  # each new shape compiles (seconds)


def _runs(n: int = 3):
    return [small_run(seed=s, train={"steps": 60}) for s in range(n)]


def test_compile_flag_and_environment(monkeypatch):
    monkeypatch.delenv(COMPILE_ENV, raising=False)
    assert compile_enabled() is False and compile_enabled(True) is True
    monkeypatch.setenv(COMPILE_ENV, "1")
    assert compile_enabled() is True and compile_enabled(False) is False
    monkeypatch.setenv(COMPILE_ENV, "0")
    assert compile_enabled() is False


def test_compiled_prompts_and_gradients_equal_eager():
    runs = _runs()
    worlds = [World.build(r) for r in runs]
    stream = TrainingStream(worlds, runs, torch.device("cpu"), torch.float32)
    E, n, l = len(runs), 24, runs[0].data.l_tr
    U = torch.rand(E, n, l + 1, N_UNIFORMS, generator=torch.Generator().manual_seed(0))
    args = (
        U,
        stream.rel.shape[1],
        stream.irr.shape[1],
        stream.tasks,
        stream.n_tasks,
        stream.alpha,
        stream.K,
    )
    eager, comp = factor_prompts(*args), torch_compiled(factor_prompts)(*args)
    for f in ("pat", "k", "y", "z"):
        assert torch.equal(getattr(eager, f), getattr(comp, f)), f
    torch.testing.assert_close(eager.kappa, comp.kappa)
    model = init_ensemble(runs, "cpu")
    inputs = (
        model.W_Q,
        model.W_K,
        model.W_V,
        model.W_O,
        model.a,
        False,
        stream.rel,
        stream.irr,
        stream.q,
        eager.pat,
        eager.k,
        eager.kappa,
        eager.y,
        eager.z,
    )
    with torch.no_grad():
        loss_e, grads_e = factored_hinge_loss_and_grads(*inputs)
        loss_c, grads_c = torch_compiled(factored_hinge_loss_and_grads)(*inputs)
    torch.testing.assert_close(loss_c, loss_e)
    assert set(grads_c) == set(grads_e)
    for k in grads_e:
        torch.testing.assert_close(
            grads_c[k], grads_e[k], atol=1e-6, rtol=1e-5, msg=lambda s, k=k: f"{k}: {s}"
        )


def test_compiled_training_matches_eager_and_repeats_exactly():
    runs = _runs()
    eager = train_ensemble(runs, compile=False)
    first, second = train_ensemble(runs, compile=True), train_ensemble(runs, compile=True)
    assert first.compiled and not eager.compiled
    for e in range(len(runs)):
        assert relative_change(eager, e) > 0.05
        assert_weights_close(first.model.member(e), eager.model.member(e), atol=1e-4, rtol=1e-4)
        for k in PARAMS:
            assert torch.equal(first.model.member(e)[k], second.model.member(e)[k]), k
        assert first.histories[e].err_id == second.histories[e].err_id
