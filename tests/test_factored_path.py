"""The factored fast path computes exactly the dense model's loss and gradients."""

from __future__ import annotations

import pytest
import torch
from conftest import small_run

from harness.training.trainer import train_ensemble
from harness.world.patterns import in_domain_patterns
from harness.world.prompts import draw_uniforms, factor_prompts, materialise
from harness.world.seeding import generator
from models import EnsembleICLTransformer

D64 = torch.float64


def _setup(E: int = 3, n: int = 7, l: int = 5, train_a: bool = False):
    run = small_run(0)
    cfg = run.data
    ps = [in_domain_patterns(cfg, s) for s in range(E)]
    rel = torch.stack([p.relevant for p in ps])
    irr = torch.stack([p.irrelevant for p in ps])
    q = torch.stack([p.q for p in ps])
    tasks = torch.tensor([[[0, 1], [1, 2], [2, 3], [3, 0]]] * E)
    U = torch.stack([draw_uniforms(n, l, generator(10 + e)) for e in range(E)])
    f = factor_prompts(
        U,
        cfg.M1,
        cfg.M2,
        tasks,
        torch.tensor([4, 3, 2]),
        torch.tensor([0.8, 0.5, 0.3], dtype=D64),
        torch.tensor([0.5, 0.4, 0.3], dtype=D64),
        dtype=D64,
    )
    dense = materialise(f, rel, irr, q)
    d = cfg.dX + cfg.dY
    g = torch.Generator().manual_seed(3)
    # random (non-identity) weights so softmax, ReLU and hinge are all in mixed regimes
    model = EnsembleICLTransformer(
        torch.randn(E, d, d, generator=g, dtype=D64) * 0.7,
        torch.randn(E, d, d, generator=g, dtype=D64) * 0.7,
        torch.randn(E, d, d, generator=g, dtype=D64),
        torch.randn(E, 6, d, generator=g, dtype=D64),
        torch.randn(E, 6, generator=g, dtype=D64),
        train_a=train_a,
    )
    return model, f, dense, rel.to(D64), irr.to(D64), q.to(D64)


@pytest.mark.parametrize("train_a", [False, True])
def test_factored_loss_and_grads_equal_dense(train_a):
    model, f, dense, rel, irr, q = _setup(train_a=train_a)
    ld, gd = model.hinge_loss_and_grads(dense.P, dense.z)
    lf, gf = model.hinge_loss_and_grads_factored(rel, irr, q, f.pat, f.k, f.kappa, f.y, f.z)
    # hinge active for some prompts, not all saturated
    assert 0 < float(ld.min()) and float(ld.max()) < 10
    torch.testing.assert_close(lf, ld, rtol=1e-10, atol=1e-12)
    assert set(gf) == set(gd)
    for name in gd:
        assert float(gd[name].abs().max()) > 0
        torch.testing.assert_close(gf[name], gd[name], rtol=1e-9, atol=1e-11)


def test_factored_grads_equal_autograd():
    model, f, dense, rel, irr, q = _setup()
    F = model(dense.P)
    torch.relu(1.0 - dense.z * F).mean(-1).sum().backward()
    _, gf = model.hinge_loss_and_grads_factored(rel, irr, q, f.pat, f.k, f.kappa, f.y, f.z)
    for name in ("W_Q", "W_K", "W_V", "W_O"):
        torch.testing.assert_close(gf[name], getattr(model, name).grad, rtol=1e-9, atol=1e-11)


def test_training_takes_the_dense_path_with_noise_and_both_learn():
    """Noise forces dense prompts; a noise-free member trains on the factored path. Both stay finite
    and the noise-free member's weights do not depend on whether a noisy member shares its ensemble
    (the stream switches path, the numbers agree to float tolerance)."""
    clean = small_run(1)
    noisy = small_run(2, data=dict(noise=0.1))
    alone = train_ensemble([clean])
    mixed = train_ensemble([clean, noisy])
    assert not any(mixed.failed)
    for name in ("W_Q", "W_K", "W_V", "W_O"):
        torch.testing.assert_close(
            mixed.model.member(0)[name], alone.model.member(0)[name], rtol=1e-4, atol=1e-5
        )
