"""The ensemble Transformer: shapes, agreement with the literal reference model,
hand-written gradients against autograd, neuron masks and the initialisation."""

from __future__ import annotations

import math

import pytest
import torch

from harness.world.seeding import generator
from models import EnsembleICLTransformer, ReferenceICLTransformer, hinge_loss

D64 = torch.float64


def random_members(
    E: int, d: int, m: int, ma: int, mb: int, seed: int = 0, dtype=D64
) -> list[dict[str, torch.Tensor]]:
    """Random, non-identity weights whose attention scores are O(1) (non-uniform attention)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(E):
        out.append(
            {
                "W_Q": torch.randn(mb, d, generator=g, dtype=dtype) / math.sqrt(d),
                "W_K": torch.randn(mb, d, generator=g, dtype=dtype) / math.sqrt(mb),
                "W_V": torch.randn(ma, d, generator=g, dtype=dtype) / math.sqrt(d),
                "W_O": torch.randn(m, ma, generator=g, dtype=dtype) / math.sqrt(ma),
                "a": torch.randn(m, generator=g, dtype=dtype),
            }
        )
    return out


def reference_of(w: dict[str, torch.Tensor]) -> ReferenceICLTransformer:
    return ReferenceICLTransformer(w["W_Q"], w["W_K"], w["W_V"], w["W_O"], w["a"])


def random_prompts(E: int, n: int, l: int, d: int, seed: int = 1, dtype=D64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(E, n, l + 1, d, generator=g, dtype=dtype)


def mixed_labels(F: torch.Tensor) -> torch.Tensor:
    """Labels that put about half the prompts in the active hinge regime and half beyond the margin
    (needs |F| > 1 on some prompts): z = sign(F) on even prompts, -sign(F) on odd ones."""
    s = torch.where(F >= 0, 1.0, -1.0).to(F.dtype)
    flip = 1 - 2 * (torch.arange(F.shape[-1]) % 2)
    return s * flip.to(F.dtype)


# ---------------------------------------------------------------------------- shapes


def test_forward_and_attention_shapes_and_normalisation():
    E, n, l, d, m, ma, mb = 3, 5, 7, 6, 4, 5, 3
    model = EnsembleICLTransformer.from_members(random_members(E, d, m, ma, mb))
    P = random_prompts(E, n, l, d)
    with torch.no_grad():
        F, A = model(P, return_attention=True)
        F_only = model(P)
    assert F.shape == (E, n)
    assert A.shape == (E, n, l)
    assert torch.all(A >= 0)
    torch.testing.assert_close(A.sum(-1), torch.ones(E, n, dtype=D64))
    # attention is genuinely non-uniform with these weights (otherwise the sum check is weak)
    assert float((A - 1.0 / l).abs().max()) > 1e-2
    # forward without return_attention returns the same F alone
    torch.testing.assert_close(F_only, F)
    assert model.size == E


# ---------------------------------------------------------------------------- reference agreement


@pytest.mark.parametrize("ma,mb", [(6, 6), (5, 3)])
def test_ensemble_forward_equals_reference_per_member(ma, mb):
    E, n, l, d, m = 3, 6, 5, 6, 8
    members = random_members(E, d, m, ma, mb, seed=ma * 10 + mb)
    model = EnsembleICLTransformer.from_members(members)
    P = random_prompts(E, n, l, d, seed=2)
    F = model(P)
    for e in range(E):
        ref = reference_of(members[e])
        torch.testing.assert_close(F[e], ref(P[e]), rtol=1e-12, atol=1e-12)
    # the members are really different models (so a mix-up of members would be caught)
    assert not torch.allclose(F[0], F[1])


def test_reference_recomputes_attention_literally():
    """Attention from the ensemble equals softmax((W_K p_i)^T (W_Q p_q)) computed column by
    column."""
    E, n, l, d, m, ma, mb = 2, 3, 4, 5, 4, 5, 3
    members = random_members(E, d, m, ma, mb, seed=7)
    model = EnsembleICLTransformer.from_members(members)
    P = random_prompts(E, n, l, d, seed=8)
    A = model.attention(P)
    for e in range(E):
        w = members[e]
        for j in range(n):
            pq = P[e, j, -1]
            s = torch.stack([(w["W_K"] @ P[e, j, i]) @ (w["W_Q"] @ pq) for i in range(l)])
            torch.testing.assert_close(A[e, j], torch.softmax(s, 0))


# ---------------------------------------------------------------------------- gradients


def _setup_grad_case(train_a: bool, seed: int = 3):
    E, n, l, d, m, ma, mb = 3, 16, 5, 6, 10, 5, 4
    members = random_members(E, d, m, ma, mb, seed=seed)
    P = random_prompts(E, n, l, d, seed=seed + 1)
    # scale a so that |F| straddles 1: both hinge regimes occur
    probe = EnsembleICLTransformer.from_members(members)
    with torch.no_grad():
        F = probe(P)
    for e in range(E):
        members[e]["a"] = members[e]["a"] * (2.0 / F[e].abs().median())
        # one dead neuron with h = 0 exactly (as after pruning): ReLU'(0) must be taken as 0, like
        # autograd
        members[e]["W_O"] = members[e]["W_O"].clone()
        members[e]["W_O"][0] = 0.0
    model = EnsembleICLTransformer.from_members(members, train_a=train_a)
    with torch.no_grad():
        F, _ = model(P, return_attention=True)
    z = mixed_labels(F)
    return model, members, P, z


def _assert_mixed_regimes(model: EnsembleICLTransformer, P: torch.Tensor, z: torch.Tensor) -> None:
    with torch.no_grad():
        F = model(P)
        A = model.attention(P)
        u = (A.unsqueeze(-2) @ P[:, :, :-1, :]).squeeze(-2)
        h = u @ model.W_V.transpose(1, 2) @ model.W_O.transpose(1, 2)
    margin = 1 - z * F
    for e in range(F.shape[0]):
        assert (margin[e] > 0).any() and (margin[e] < 0).any(), "hinge must be in both regimes"
        assert (h[e] > 0).any() and (h[e] < 0).any(), "ReLU must be in both regimes"


@pytest.mark.parametrize("train_a", [False, True])
def test_hand_written_grads_equal_autograd_of_ensemble_forward(train_a):
    model, _, P, z = _setup_grad_case(train_a)
    _assert_mixed_regimes(model, P, z)
    loss, grads = model.hinge_loss_and_grads(P, z)

    F = model(P)
    per_member = torch.relu(1.0 - z * F).mean(-1)  # (E,)
    torch.testing.assert_close(loss, per_member.detach(), rtol=1e-12, atol=1e-12)
    names = ["W_Q", "W_K", "W_V", "W_O"] + (["a"] if train_a else [])
    auto = torch.autograd.grad(per_member.sum(), [getattr(model, k) for k in names])
    assert set(grads) == set(names)
    for k, ga in zip(names, auto):
        assert grads[k].shape == ga.shape, k
        assert float(ga.abs().max()) > 0, (
            f"autograd gradient of {k} is zero: the test would be vacuous"
        )
        torch.testing.assert_close(
            grads[k], ga, rtol=1e-9, atol=1e-11, msg=lambda s, k=k: f"{k}: {s}"
        )


@pytest.mark.parametrize("train_a", [False, True])
def test_hand_written_grads_equal_reference_model_grads(train_a):
    model, members, P, z = _setup_grad_case(train_a, seed=11)
    _assert_mixed_regimes(model, P, z)
    loss, grads = model.hinge_loss_and_grads(P, z)
    for e, w in enumerate(members):
        ref = reference_of(w)
        if train_a:
            ref.a.requires_grad_(True)
        L = hinge_loss(ref(P[e]), z[e])
        torch.testing.assert_close(loss[e], L.detach(), rtol=1e-12, atol=1e-12)
        L.backward()
        for k in ("W_Q", "W_K", "W_V", "W_O"):
            torch.testing.assert_close(grads[k][e], getattr(ref, k).grad, rtol=1e-9, atol=1e-11)
        if train_a:
            torch.testing.assert_close(grads["a"][e], ref.a.grad, rtol=1e-9, atol=1e-11)


def test_grads_of_one_member_do_not_depend_on_the_others():
    model, members, P, z = _setup_grad_case(False, seed=21)
    _, grads = model.hinge_loss_and_grads(P, z)
    solo = EnsembleICLTransformer.from_members([members[1]])
    _, g1 = solo.hinge_loss_and_grads(P[1:2], z[1:2])
    for k in g1:
        torch.testing.assert_close(grads[k][1], g1[k][0], rtol=1e-12, atol=1e-12)


def test_a_gets_no_gradient_when_fixed():
    model, _, P, z = _setup_grad_case(False)
    _, grads = model.hinge_loss_and_grads(P, z)
    assert "a" not in grads
    assert not model.a.requires_grad


# ---------------------------------------------------------------------------- neuron mask


def test_neuron_mask_equals_zeroed_W_O_rows():
    E, n, l, d, m, ma, mb = 2, 12, 5, 6, 10, 5, 4
    members = random_members(E, d, m, ma, mb, seed=5)
    model = EnsembleICLTransformer.from_members(members)
    P = random_prompts(E, n, l, d, seed=6)
    mask = torch.ones(E, m, dtype=D64)
    mask[0, [0, 3, 7]] = 0
    mask[1, [1, 2]] = 0
    zeroed = [dict(w) for w in members]
    for e in range(E):
        zeroed[e]["W_O"] = members[e]["W_O"] * mask[e][:, None]
    ref = EnsembleICLTransformer.from_members(zeroed)
    with torch.no_grad():
        F_mask = model(P, neuron_mask=mask)
        torch.testing.assert_close(F_mask, ref(P), rtol=1e-12, atol=1e-12)
        # the mask changes the output (so the comparison is not trivially true)
        assert not torch.allclose(F_mask, model(P))
        # the all-ones mask is the identity
        torch.testing.assert_close(model(P, neuron_mask=torch.ones(E, m, dtype=D64)), model(P))


# ---------------------------------------------------------------------------- initialisation


def test_initial_weights_structure():
    d, m, ma, mb, delta, wo_std = 10, 8, 10, 10, 0.1, 1.0
    w = EnsembleICLTransformer.initial_weights(d, m, ma, mb, delta, wo_std, 0.0, generator(0))
    for k in ("W_Q", "W_K", "W_V"):
        torch.testing.assert_close(w[k], delta * torch.eye(d))
    s = 1.0 / math.sqrt(m)
    torch.testing.assert_close(w["a"], torch.tensor([s] * (m // 2) + [-s] * (m // 2)))
    assert w["W_O"].shape == (m, ma)


def test_initial_weights_rectangular_and_a_scale():
    d, m, ma, mb = 6, 4, 8, 3
    w = EnsembleICLTransformer.initial_weights(d, m, ma, mb, 0.05, 1.0, 0.7, generator(1))
    assert w["W_Q"].shape == (mb, d) and w["W_K"].shape == (mb, d) and w["W_V"].shape == (ma, d)
    torch.testing.assert_close(w["W_Q"], 0.05 * torch.eye(mb, d))
    torch.testing.assert_close(w["W_V"], 0.05 * torch.eye(ma, d))
    torch.testing.assert_close(w["a"], torch.tensor([0.7, 0.7, -0.7, -0.7]))


@pytest.mark.parametrize("wo_std,ma", [(1.0, 16), (0.3, 64)])
def test_initial_W_O_std(wo_std, ma):
    m = 256
    w = EnsembleICLTransformer.initial_weights(
        ma, m, ma, ma, 0.1, wo_std, 0.0, generator(2), dtype=D64
    )
    target = wo_std / math.sqrt(ma)
    N = m * ma
    std = float(w["W_O"].std())
    # relative std of a sample std is about 1/sqrt(2N); allow 6 of those
    assert abs(std / target - 1) < 6 / math.sqrt(2 * N)
    assert abs(float(w["W_O"].mean())) < 6 * target / math.sqrt(N)


def test_initial_weights_reproducible_from_generator():
    a = EnsembleICLTransformer.initial_weights(6, 4, 6, 6, 0.1, 1.0, 0.0, generator(3))
    b = EnsembleICLTransformer.initial_weights(6, 4, 6, 6, 0.1, 1.0, 0.0, generator(3))
    c = EnsembleICLTransformer.initial_weights(6, 4, 6, 6, 0.1, 1.0, 0.0, generator(4))
    assert torch.equal(a["W_O"], b["W_O"])
    assert not torch.equal(a["W_O"], c["W_O"])


def test_member_returns_detached_copies():
    members = random_members(2, 4, 4, 4, 4, seed=9)
    model = EnsembleICLTransformer.from_members(members)
    w1 = model.member(1)
    for k, v in w1.items():
        torch.testing.assert_close(v, members[1][k])
        assert not v.requires_grad
    w1["W_O"].zero_()
    assert not torch.equal(model.W_O[1].detach(), w1["W_O"])
