"""Online SGD for ensembles: reproducibility, ensemble == solo, failure isolation, histories."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from conftest import small_run

from harness.training.history import History
from harness.training.stream import TrainingStream
from harness.training.trainer import init_ensemble, train_ensemble
from harness.world.prompts import PromptBatch
from harness.world.seeding import derive_seed, generator
from harness.world.world import World

PARAMS = ("W_Q", "W_K", "W_V", "W_O", "a")


def weights(te, e: int) -> dict[str, torch.Tensor]:
    return te.model.member(e)


def assert_weights_close(w1, w2, atol=1e-5, rtol=1e-5):
    for k in PARAMS:
        torch.testing.assert_close(
            w1[k], w2[k], atol=atol, rtol=rtol, msg=lambda s, k=k: f"{k}: {s}"
        )


def relative_change(te, e: int) -> float:
    """How far member e moved from its initialisation (relative Frobenius norm of W_O)."""
    w0 = init_ensemble([te.runs[e]], "cpu").member(0)
    w = te.model.member(e)
    return float((w["W_O"] - w0["W_O"]).norm() / w0["W_O"].norm())


# ---------------------------------------------------------------------------- reproducibility


def test_same_seed_twice_gives_identical_weights_and_histories():
    run = small_run(seed=5, train=dict(eta=5.0))
    a, b = train_ensemble([run]), train_ensemble([run])
    for k in PARAMS:
        assert torch.equal(getattr(a.model, k), getattr(b.model, k)), k
    assert a.histories[0].err_id == b.histories[0].err_id
    assert a.histories[0].train_loss[1:] == b.histories[0].train_loss[1:]
    assert relative_change(a, 0) > 0.05  # training actually moved the weights
    c = train_ensemble([dataclasses.replace(run, seed=6)])
    assert not torch.equal(a.model.W_O, c.model.W_O)


def test_first_sgd_step_is_w_minus_eta_grad():
    """Reconstruct step 1 by hand: initial weights from derive_seed(seed, "init"), the first batch
    of the data stream derive_seed(seed, "train-data"), and W <- W - eta * grad."""
    eta = 3.0
    run = small_run(seed=2, train=dict(steps=1, batch=16, chunk=4, eta=eta, eval_every=1))
    te = train_ensemble([run])
    model = init_ensemble([run], "cpu")
    w0 = model.member(0)
    world = World.build(run)
    g = generator(derive_seed(run.seed, "train-data"))
    chunk = PromptBatch.stack([world.train_prompts(4 * 16, g)])
    loss, grads = model.hinge_loss_and_grads(chunk.P[:, :16], chunk.z[:, :16])
    w1 = te.model.member(0)
    for k in ("W_Q", "W_K", "W_V", "W_O"):
        torch.testing.assert_close(w1[k], w0[k] - eta * grads[k][0], rtol=1e-6, atol=1e-7)
        assert float(grads[k].abs().max()) > 0
    torch.testing.assert_close(w1["a"], w0["a"])  # a is fixed
    assert te.histories[0].train_loss[1] == pytest.approx(float(loss[0]), rel=1e-6)


def test_train_a_updates_a():
    run = small_run(seed=1, model=dict(train_a=True), train=dict(eta=5.0, steps=10))
    te = train_ensemble([run])
    w0 = init_ensemble([run], "cpu").member(0)
    assert not torch.allclose(te.model.member(0)["a"], w0["a"])
    fixed = train_ensemble([small_run(seed=1, train=dict(eta=5.0, steps=10))])
    torch.testing.assert_close(fixed.model.member(0)["a"], w0["a"])


# ---------------------------------------------------------------------------- ensemble == solo


def _members():
    return [
        small_run(seed=11, data=dict(alpha=0.8), train=dict(eta=2.0)),
        small_run(seed=12, data=dict(alpha=0.6), train=dict(eta=5.0)),
        small_run(seed=13, data=dict(alpha=1.0, K=0.3), train=dict(eta=10.0)),
    ]


def test_ensemble_equals_solo_training():
    runs = _members()
    ens = train_ensemble(runs)
    assert ens.failed == [False, False, False]
    for e, r in enumerate(runs):
        solo = train_ensemble([r])
        assert relative_change(solo, 0) > 0.05
        assert_weights_close(weights(ens, e), weights(solo, 0))
        he, hs = ens.histories[e], solo.histories[0]
        assert he.steps == hs.steps
        for x, y in zip(he.err_id, hs.err_id):
            assert abs(x - y) <= 1
        for x, y in zip(he.err_ood, hs.err_ood):
            assert abs(x - y) <= 1
        for x, y in zip(he.train_loss[1:], hs.train_loss[1:]):
            assert x == pytest.approx(y, rel=1e-4, abs=1e-6)
        for x, y in zip(he.attn_id, hs.attn_id):
            assert x == pytest.approx(y, rel=1e-4, abs=1e-6)
    # the members really differ from one another
    assert not torch.allclose(ens.model.W_O[0], ens.model.W_O[1])


@pytest.mark.parametrize("noise", [0.0, 0.4])
def test_threaded_draws_equal_serial_draws(noise):
    """TrainingStream draws each member's uniforms (and noise) on several threads on a CPU: the
    prompts must be exactly those of one thread, for factored and dense (noisy) batches."""
    runs = [small_run(seed=s, data=dict(noise=noise if s % 2 else 0.0)) for s in range(5)]
    worlds = [World.build(r) for r in runs]
    before = torch.get_num_threads()
    batches = {}
    try:
        for threads in (1, 3):
            torch.set_num_threads(threads)
            stream = TrainingStream(worlds, runs, torch.device("cpu"), torch.float32)
            assert (stream.pool is None) == (threads == 1)
            batches[threads] = [stream.next(40) for _ in range(2)]
            stream.close()
    finally:
        torch.set_num_threads(before)
    for a, b in zip(batches[1], batches[3]):
        assert type(a) is type(b)
        for k in vars(a):
            assert torch.equal(getattr(a, k), getattr(b, k)), k


def test_member_order_does_not_matter():
    runs = _members()
    fwd, rev = train_ensemble(runs), train_ensemble(runs[::-1])
    for e in range(3):
        assert_weights_close(weights(fwd, e), weights(rev, 2 - e))


def test_diverging_member_is_isolated():
    runs = _members()
    bad = small_run(seed=99, train=dict(eta=1e12))
    with_bad = train_ensemble([runs[0], bad, runs[1], runs[2]])
    without = train_ensemble(runs)
    assert with_bad.failed == [False, True, False, False]
    assert with_bad.failed_at[1] is not None and 0 < with_bad.failed_at[1] < bad.train.steps
    assert (
        with_bad.failed_at[0] is None
        and with_bad.failed_at[2] is None
        and with_bad.failed_at[3] is None
    )
    for e_bad, e_ref in [(0, 0), (2, 1), (3, 2)]:
        w = weights(with_bad, e_bad)
        assert all(bool(torch.isfinite(v).all()) for v in w.values())
        assert_weights_close(w, weights(without, e_ref))
        for x, y in zip(with_bad.histories[e_bad].err_id, without.histories[e_ref].err_id):
            assert abs(x - y) <= 1
        # no NaN from the failed member leaks into the healthy members' records
        assert all(math.isfinite(x) for x in with_bad.histories[e_bad].train_loss[1:])
    # from the checkpoint that covers the failure on, the failed member's loss reads NaN, never a
    # good-looking number
    h = with_bad.histories[1]
    after = [x for st, x in zip(h.steps, h.train_loss) if st > with_bad.failed_at[1]]
    assert after and all(math.isnan(x) for x in after)
    assert all(math.isnan(x) or x <= bad.train.loss_limit for x in h.train_loss[1:])


def test_non_finite_loss_marks_failure_without_a_loss_limit():
    """With loss_limit = inf only a non-finite loss can fail a member; it must, and be frozen."""
    inf = float("inf")
    bad = small_run(seed=99, train=dict(eta=1e12, loss_limit=inf))
    good = small_run(seed=1, train=dict(eta=2.0, loss_limit=inf))
    te = train_ensemble([bad, good])
    assert te.failed == [True, False]
    f = te.failed_at[0]
    assert f is not None and f >= 1
    assert all(math.isfinite(x) for x in te.histories[1].train_loss[1:])
    assert math.isnan(te.histories[0].train_loss[-1])
    short = train_ensemble(
        [dataclasses.replace(bad, train=dataclasses.replace(bad.train, steps=f))]
    )
    assert short.failed == [False]
    for k in PARAMS:
        assert torch.equal(getattr(te.model, k)[0], getattr(short.model, k)[0]), k
    assert_weights_close(weights(te, 1), weights(train_ensemble([good]), 0))


def test_failed_member_is_frozen_at_failure():
    """A member that fails at step f keeps the weights it had after f SGD steps."""
    bad = small_run(seed=99, train=dict(eta=1e12))
    te = train_ensemble([bad])
    assert te.failed == [True]
    f = te.failed_at[0]
    assert f is not None and f >= 1
    short = train_ensemble(
        [dataclasses.replace(bad, train=dataclasses.replace(bad.train, steps=f))]
    )
    assert short.failed == [False]
    for k in PARAMS:
        assert torch.equal(getattr(te.model, k)[0], getattr(short.model, k)[0]), k


def test_loss_limit_fails_everyone_at_step_zero_and_freezes_them():
    # initial loss is about 1
    runs = [small_run(seed=s, train=dict(loss_limit=0.5)) for s in (1, 2)]
    te = train_ensemble(runs)
    assert te.failed == [True, True]
    assert te.failed_at == [0, 0]
    init = init_ensemble(runs, "cpu")
    for k in PARAMS:
        assert torch.equal(getattr(te.model, k), getattr(init, k)), k


# ---------------------------------------------------------------------------- errors


def test_train_ensemble_rejects_mixed_shapes_and_empty():
    with pytest.raises(ValueError, match="shape"):
        train_ensemble([small_run(0), small_run(1, data=dict(l_tr=6))])
    with pytest.raises(ValueError):
        train_ensemble([])


# ---------------------------------------------------------------------------- histories


def test_first_step_at_or_below():
    h = History(steps=[0, 10, 20, 30], err_id=[32, 10, 3, 5], err_ood=[40, 40, 20, 0], n_eval=64)
    assert h.first_step_at_or_below(0.5) == 0  # 32 / 64 = 0.5 <= 0.5
    assert h.first_step_at_or_below(0.49) == 10
    assert h.first_step_at_or_below(3 / 64) == 20
    assert h.first_step_at_or_below(0.04) is None  # never reached: censored
    assert h.first_step_at_or_below(0.0, which="err_ood") == 30
    assert h.first_step_at_or_below(0.4, which="err_ood") == 20


@pytest.mark.parametrize(
    "steps,eval_every,chunk,expected",
    [
        (25, 10, 10, [0, 10, 20, 25]),
        (30, 10, 7, [0, 10, 20, 30]),
        (7, 3, 4, [0, 3, 6, 7]),
    ],
)
def test_history_checkpoints(steps, eval_every, chunk, expected):
    run = small_run(seed=3, train=dict(steps=steps, eval_every=eval_every, chunk=chunk, n_eval=32))
    te = train_ensemble([run, dataclasses.replace(run, seed=4)])
    for h in te.histories:
        assert h.steps == expected
        assert h.n_eval == 32
        n = len(expected)
        assert (
            len(h.train_loss)
            == len(h.err_id)
            == len(h.err_ood)
            == len(h.attn_id)
            == len(h.attn_ood)
            == n
        )
        assert math.isnan(h.train_loss[0]) and all(math.isfinite(x) for x in h.train_loss[1:])
        assert all(0 <= e <= 32 for e in h.err_id + h.err_ood)
        assert all(0.0 <= x <= 1.0 for x in h.attn_id + h.attn_ood)


@pytest.mark.parametrize("env, expected", [("1", True), ("0", False)])
def test_allocator_tuning_applies_once_and_can_be_turned_off(env, expected):
    """harness.training.allocator raises glibc's thresholds (a no-op elsewhere);
    ICLCHECK_MALLOC_TUNE=0 leaves malloc alone."""
    import os
    import platform
    import subprocess
    import sys

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt thresholds are glibc's")
    code = "from harness.training.allocator import keep_freed_memory as k; print(k(), k())"
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "ICLCHECK_MALLOC_TUNE": env},
    )
    assert r.stdout.split() == [str(expected)] * 2, r.stderr
