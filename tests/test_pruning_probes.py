"""Magnitude pruning masks, evaluation (with and without masks) and the mechanism probes."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import small_run

from harness.measure.evaluation import evaluate
from harness.measure.probes import neuron_probe, two_cluster_split
from harness.measure.pruning import PRUNE_MODES, prune_mask
from harness.training.trainer import init_ensemble
from harness.world.prompts import PromptBatch
from harness.world.seeding import generator
from harness.world.world import World
from models import EnsembleICLTransformer


def graded_W_O(E: int, m: int, ma: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """W_O whose row norms are a random permutation of 1..m per member; returns (W_O, norms)."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(E, m, ma, generator=g)
    W = W / W.norm(dim=-1, keepdim=True)
    scales = torch.stack([torch.randperm(m, generator=g) + 1 for _ in range(E)]).float()
    return W * scales[..., None], scales


# ---------------------------------------------------------------------------- prune_mask


@pytest.mark.parametrize("R", [0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("mode", ["small", "large"])
def test_prune_mask_removes_round_R_m_rows_by_norm(R, mode):
    E, m, ma = 3, 20, 5
    W, norms = graded_W_O(E, m, ma, seed=int(R * 100))
    mask = prune_mask(W, R, mode)
    k = round(R * m)
    assert mask.shape == (E, m) and mask.dtype == W.dtype
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert mask.sum(1).tolist() == [m - k] * E
    for e in range(E):
        removed, kept = norms[e][mask[e] == 0], norms[e][mask[e] == 1]
        if 0 < k < m:
            if mode == "small":
                assert float(removed.max()) < float(kept.min())
            else:
                assert float(removed.min()) > float(kept.max())
    if 0 < k < m:
        # small and large are complementary on distinct norms for R = 0.5
        if R == 0.5:
            other = prune_mask(W, R, "large" if mode == "small" else "small")
            assert torch.equal(mask + other, torch.ones(E, m))


def test_prune_mask_rounds_fraction_times_m():
    W, _ = graded_W_O(1, 7, 3)
    assert int((prune_mask(W, 0.3, "small") == 0).sum()) == 2  # round(2.1)
    assert int((prune_mask(W, 0.65, "small") == 0).sum()) == 5  # round(4.55)
    assert int((prune_mask(W, 0.9, "large") == 0).sum()) == 6  # round(6.3)


def test_prune_mask_random_reproducible():
    E, m = 4, 30
    W, _ = graded_W_O(E, m, 4, seed=1)
    m1 = prune_mask(W, 0.4, "random", generator(7))
    m2 = prune_mask(W, 0.4, "random", generator(7))
    m3 = prune_mask(W, 0.4, "random", generator(8))
    assert torch.equal(m1, m2)
    assert not torch.equal(m1, m3)
    assert m1.sum(1).tolist() == [m - 12] * E
    # the members get different random masks, and random is not the magnitude order
    assert not torch.equal(m1[0], m1[1])
    assert not torch.equal(m1, prune_mask(W, 0.4, "small")) and not torch.equal(
        m1, prune_mask(W, 0.4, "large")
    )


def test_prune_mask_random_is_roughly_uniform():
    m, trials = 10, 400
    W, _ = graded_W_O(1, m, 3)
    g = generator(0)
    removed = torch.zeros(m)
    for _ in range(trials):
        removed += 1 - prune_mask(W, 0.3, "random", g)[0]
    p = 0.3
    sigma = math.sqrt(trials * p * (1 - p))
    assert float((removed - trials * p).abs().max()) < 5 * sigma


def test_prune_mask_errors():
    W, _ = graded_W_O(1, 4, 2)
    with pytest.raises(ValueError, match="mode"):
        prune_mask(W, 0.5, "medium")
    with pytest.raises(ValueError, match="fraction"):
        prune_mask(W, 1.5, "small")
    with pytest.raises(ValueError, match="generator"):
        prune_mask(W, 0.5, "random")
    assert set(PRUNE_MODES) == {"small", "large", "random"}


# ---------------------------------------------------------------------------- evaluate


def _model_and_batch(E=3, n=64, seed=0):
    runs = [small_run(seed=seed + e) for e in range(E)]
    model = init_ensemble(runs, "cpu")
    # perturb away from the identity initialisation so attention is not uniform and F not tiny
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k in ("W_Q", "W_K", "W_V"):
            getattr(model, k).add_(0.5 * torch.randn(getattr(model, k).shape, generator=g))
    worlds = [World.build(r) for r in runs]
    batch = PromptBatch.stack([w.test_prompts(n, w.eval_generator("t")) for w in worlds])
    return model, batch


def test_evaluate_matches_manual_count():
    model, batch = _model_and_batch()
    res = evaluate(model, batch)
    with torch.no_grad():
        F, A = model(batch.P, return_attention=True)
    errors = (batch.z * F <= 0).sum(-1)
    assert torch.equal(res.errors, errors)
    assert res.n == 64
    torch.testing.assert_close(res.error_rate, errors.double() / 64)
    attn = (A * batch.same_as_query).sum(-1).double().mean(-1)
    torch.testing.assert_close(res.attn_same, attn)
    assert 0 < int(res.errors.sum()) < 3 * 64  # a non-degenerate case


def test_evaluate_chunking_does_not_change_results():
    model, batch = _model_and_batch(n=50)
    a, b = evaluate(model, batch), evaluate(model, batch, chunk=7)
    assert torch.equal(a.errors, b.errors)
    torch.testing.assert_close(a.attn_same, b.attn_same)


def test_evaluate_counts_nan_as_error():
    model, batch = _model_and_batch()
    with torch.no_grad():
        model.W_O[1].fill_(float("nan"))
    res = evaluate(model, batch)
    assert int(res.errors[1]) == 64
    assert int(res.errors[0]) < 64


@pytest.mark.parametrize("mode", ["small", "large", "random"])
def test_evaluate_with_mask_equals_zeroed_rows(mode):
    model, batch = _model_and_batch(seed=3)
    mask = prune_mask(model.W_O, 0.5, mode, generator(1))
    masked = evaluate(model, batch, neuron_mask=mask)
    zeroed = EnsembleICLTransformer.from_members([model.member(e) for e in range(model.size)])
    with torch.no_grad():
        zeroed.W_O.mul_(mask[..., None])
    ref = evaluate(zeroed, batch)
    assert torch.equal(masked.errors, ref.errors)
    torch.testing.assert_close(masked.attn_same, ref.attn_same)
    # pruning half the neurons changes the outputs (so the comparison has teeth)
    with torch.no_grad():
        assert not torch.allclose(model(batch.P, neuron_mask=mask), model(batch.P))


# ---------------------------------------------------------------------------- probes


def test_neuron_probe_shapes_and_values():
    dX, dY, m = 4, 3, 6
    d = dX + dY
    mean_idr = torch.tensor([1.0, 2.0, 0.0, -1.0])
    q = torch.tensor([0.0, 0.6, 0.8])
    a = torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0, -1.0]) / math.sqrt(m)
    feat_dir = mean_idr / mean_idr.norm()
    orth = torch.tensor([2.0, -1.0, 0.0, 0.0])  # orthogonal to mean_idr
    rows = torch.stack(
        [
            torch.cat([feat_dir, q]),  # feature +1, label +1 (a > 0)
            torch.cat([-feat_dir, -q]),  # feature -1, label -1
            torch.cat([orth, q]) * 3.0,  # feature 0, label +1, larger norm
            torch.cat([feat_dir, -q]),  # a < 0: label cos (-1)(-1) = +1
            torch.cat([feat_dir, q]),  # a < 0: label -1
            torch.cat([orth, torch.zeros(dY)]),  # no label part: label cos 0
        ]
    )
    members = [
        {
            "W_Q": torch.eye(d),
            "W_K": torch.eye(d),
            "W_V": torch.eye(d),
            "W_O": torch.zeros(m, d),
            "a": torch.zeros(m),
        },
        {
            "W_Q": torch.eye(d),
            "W_K": torch.eye(d),
            "W_V": torch.eye(d),
            "W_O": rows,
            "a": a,
        },
    ]
    model = EnsembleICLTransformer.from_members(members)
    pr = neuron_probe(model, 1, mean_idr, q, dX)
    for t in (pr.label_cos, pr.feature_cos, pr.row_norms):
        assert t.shape == (m,)
    torch.testing.assert_close(
        pr.feature_cos,
        torch.tensor([1.0, -1.0, 0.0, 1.0, 1.0, 0.0], dtype=torch.float64),
        atol=1e-6,
        rtol=0,
    )
    torch.testing.assert_close(
        pr.label_cos,
        torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0, 0.0], dtype=torch.float64),
        atol=1e-6,
        rtol=0,
    )
    torch.testing.assert_close(pr.row_norms, rows.double().norm(dim=1))
    # W_V enters: scaling W_V scales W_O W_V but leaves the cosines unchanged; a rotation would not
    with torch.no_grad():
        model.W_V[1].mul_(2.0)
    torch.testing.assert_close(neuron_probe(model, 1, mean_idr, q, dX).feature_cos, pr.feature_cos)
    with torch.no_grad():
        model.W_V[1].copy_(torch.eye(d).flip(0))
    assert not torch.allclose(neuron_probe(model, 1, mean_idr, q, dX).feature_cos, pr.feature_cos)


def test_neuron_probe_on_initialised_model():
    run = small_run(seed=0)
    model = init_ensemble([run], "cpu")
    w = World.build(run)
    pr = neuron_probe(model, 0, w.ind.relevant.mean(0), w.ind.q, run.data.dX)
    for t in (pr.label_cos, pr.feature_cos, pr.row_norms):
        assert t.shape == (run.model.m,)
        assert bool(torch.isfinite(t).all())
    assert bool((pr.label_cos.abs() <= 1 + 1e-9).all()) and bool(
        (pr.feature_cos.abs() <= 1 + 1e-9).all()
    )


@pytest.mark.parametrize("n_hi,n_lo", [(10, 30), (30, 10), (20, 20)])
def test_two_cluster_split_bimodal(n_hi, n_lo):
    g = torch.Generator().manual_seed(n_hi)
    lo = 1.0 * (1 + 0.05 * torch.randn(n_lo, generator=g))
    hi = 10.0 * (1 + 0.05 * torch.randn(n_hi, generator=g))
    v = torch.cat([lo, hi])[torch.randperm(n_hi + n_lo, generator=g)]
    frac, ratio = two_cluster_split(v)
    assert frac == pytest.approx(n_hi / (n_hi + n_lo))
    assert ratio == pytest.approx(10.0, rel=0.1)


def test_two_cluster_split_unimodal_has_small_ratio():
    g = torch.Generator().manual_seed(0)
    v = 1.0 + 0.05 * torch.randn(40, generator=g)
    _, ratio = two_cluster_split(v)
    assert 1.0 < ratio < 1.3
