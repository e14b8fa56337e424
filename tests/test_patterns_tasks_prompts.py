"""Patterns (in-domain and OOD), task sets and prompt sampling."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch
from conftest import small_run
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.world.config import DataConfig
from harness.world.patterns import (
    in_domain_patterns,
    max_coherence,
    ood_coefficients,
    ood_patterns,
    span_residual,
)
from harness.world.prompts import (
    N_UNIFORMS,
    PromptBatch,
    _other_patterns,
    factor_prompts,
    sample_prompts,
)
from harness.world.seeding import derive_seed, generator
from harness.world.tasks import (
    all_tasks,
    coverage_counts,
    tasks_using,
    training_tasks,
    unseen_tasks,
)
from harness.world.world import World

D64 = torch.float64


def cfg(**kw) -> DataConfig:
    base = dict(M1=6, M2=6, dX=14, dY=3, l_tr=10, l_ts=10, n_train_tasks=12, M1_ood=3)
    base.update(kw)
    return DataConfig(**base).validate()


# ============================================================================ seeding


def test_derive_seed_golden_values():
    """Seeds must not change between versions / processes: hard-coded values."""
    assert derive_seed("claim", 3, "patterns") == 5643413099505137426
    assert derive_seed(0, "init") == 2020223635098297231


@settings(max_examples=25, deadline=None)
@given(
    parts=st.lists(
        st.one_of(st.integers(-(10**6), 10**6), st.text(max_size=8)), min_size=1, max_size=4
    )
)
def test_derive_seed_range_and_sensitivity(parts):
    s = derive_seed(*parts)
    assert 0 <= s < 2**63
    assert derive_seed(*parts) == s
    # appending a purpose changes the seed; so does the order of the parts when it matters
    assert derive_seed(*parts, "purpose") != s
    assert derive_seed(*parts, "a") != derive_seed(*parts, "b")


def test_generator_reproducible():
    x = torch.rand(5, generator=generator(123))
    y = torch.rand(5, generator=generator(123))
    assert torch.equal(x, y)
    assert not torch.equal(x, torch.rand(5, generator=generator(124)))


# ============================================================================ in-domain patterns


def test_in_domain_patterns_orthogonal_with_norm_beta():
    c = cfg(beta=1.7)
    ps = in_domain_patterns(c, seed=4)
    V = torch.cat([ps.relevant, ps.irrelevant])
    assert ps.relevant.shape == (6, 14) and ps.irrelevant.shape == (6, 14) and ps.q.shape == (3,)
    torch.testing.assert_close(V @ V.T, 1.7**2 * torch.eye(12, dtype=D64), rtol=0, atol=1e-12)
    torch.testing.assert_close(ps.q.norm(), torch.tensor(1.0, dtype=D64))
    assert max_coherence(V) < 1e-12


def test_in_domain_patterns_depend_on_seed_only():
    c = cfg()
    a, b, other = in_domain_patterns(c, 1), in_domain_patterns(c, 1), in_domain_patterns(c, 2)
    assert torch.equal(a.relevant, b.relevant) and torch.equal(a.q, b.q)
    assert not torch.allclose(a.relevant, other.relevant)


@pytest.mark.parametrize("rel,irr,cross", [(0.3, 0.2, 0.1), (-0.15, 0.4, -0.05)])
def test_gram_matrix_matches_requested_coherences(rel, irr, cross):
    beta = 1.3
    c = cfg(beta=beta, coherence_rel=rel, coherence_irr=irr, coherence_cross=cross)
    ps = in_domain_patterns(c, seed=0)
    mu, nu = ps.relevant, ps.irrelevant
    M1, M2 = c.M1, c.M2

    def target(n, off):
        return beta**2 * (off * torch.ones(n, n, dtype=D64) + (1 - off) * torch.eye(n, dtype=D64))

    torch.testing.assert_close(mu @ mu.T, target(M1, rel), rtol=0, atol=1e-12)
    torch.testing.assert_close(nu @ nu.T, target(M2, irr), rtol=0, atol=1e-12)
    torch.testing.assert_close(
        mu @ nu.T, beta**2 * cross * torch.ones(M1, M2, dtype=D64), rtol=0, atol=1e-12
    )
    assert max_coherence(mu) == pytest.approx(abs(rel), abs=1e-12)
    assert max_coherence(nu) == pytest.approx(abs(irr), abs=1e-12)


def test_max_coherence_on_explicit_vectors():
    v = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, -3.0]], dtype=D64)
    assert max_coherence(v) == pytest.approx(1 / math.sqrt(2))
    w = torch.tensor([[1.0, 0.0, 0.0], [-2.0, 0.1, 0.0], [0.0, 0.0, 5.0]], dtype=D64)
    assert max_coherence(w) == pytest.approx(2.0 / math.hypot(2.0, 0.1))  # |negative cosine| counts


def test_beta_jitter_bounds():
    beta, j = 2.0, 0.3
    c = cfg(M2=8, dX=14, beta=beta, beta_jitter=j)
    ps = in_domain_patterns(c, seed=9)
    norms = torch.cat([ps.relevant, ps.irrelevant]).norm(dim=1)
    assert torch.all(norms >= beta * (1 - j) - 1e-12) and torch.all(norms <= beta * (1 + j) + 1e-12)
    assert float(norms.max() - norms.min()) > 0.1 * beta * j  # jitter actually applied
    # still orthogonal (zero coherence)
    V = torch.cat([ps.relevant, ps.irrelevant])
    assert max_coherence(V) < 1e-12


def test_non_positive_definite_coherence_raises():
    with pytest.raises(ValueError, match="coherence_rel"):
        cfg(coherence_rel=-0.9)
    with pytest.raises(ValueError, match="coherence_rel"):
        in_domain_patterns(DataConfig(M1=6, M2=6, dX=14, coherence_rel=-0.9), seed=0)


# ============================================================================ OOD patterns


@pytest.mark.parametrize(
    "mode,S1",
    [
        ("spread", 1.0),
        ("spread", 2.5),
        ("spread", -0.7),
        ("unit_norm", 1.0),
        ("unit_norm", 1.3),
        ("unit_norm", -0.4),
    ],
)
def test_ood_coefficient_row_sums(mode, S1):
    c = cfg(
        M1=7, M2=4, dX=12, M1_ood=3, S1=S1, ood_coef_mode=mode, ood_coef_spread=0.3, n_train_tasks=7
    )
    C = ood_coefficients(c, seed=5)
    assert C.shape == (3, 7)
    torch.testing.assert_close(C.sum(1), torch.full((3,), S1, dtype=D64), rtol=0, atol=1e-12)
    # disjoint groups of size g = 7 // 3 = 2, leftover index 6 unused
    block = torch.zeros(3, 7, dtype=torch.bool)
    for j in range(3):
        block[j, 2 * j : 2 * j + 2] = True
    assert bool((C[~block] == 0).all())
    if mode == "unit_norm":
        torch.testing.assert_close(C.norm(dim=1), torch.ones(3, dtype=D64), rtol=0, atol=1e-12)
    else:
        # coefficients are genuinely spread, not all equal to S1 / g
        assert float((C[block] - S1 / 2).abs().max()) > 1e-3


@settings(max_examples=25, deadline=None)
@given(
    S1=st.floats(-5, 5, allow_nan=False).filter(lambda s: abs(s) > 1e-3),
    spread=st.floats(0, 1),
    seed=st.integers(0, 1000),
)
def test_ood_row_sums_property_spread(S1, spread, seed):
    c = cfg(M1=6, M1_ood=3, S1=S1, ood_coef_mode="spread", ood_coef_spread=spread)
    C = ood_coefficients(c, seed)
    torch.testing.assert_close(C.sum(1), torch.full((3,), S1, dtype=D64), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["spread", "unit_norm"])
def test_odr_patterns_in_span_of_idr(mode):
    beta = 1.4
    c = cfg(beta=beta, ood_coef_mode=mode, S1=1.2)
    ind = in_domain_patterns(c, 3)
    ood = ood_patterns(c, ind, 3)
    assert ood.relevant.shape == (c.M1_ood, c.dX)
    torch.testing.assert_close(ood.relevant, ood.coef @ ind.relevant)
    assert float(span_residual(ood.relevant, ind.relevant).max()) < 1e-10
    # ...and clearly not in the span of the irrelevant patterns
    assert float(span_residual(ood.relevant, ind.irrelevant).min()) > 0.99
    # disjoint groups of orthogonal IDR patterns: ODR patterns are orthogonal too
    assert max_coherence(ood.relevant) < 1e-12
    if mode == "unit_norm":
        torch.testing.assert_close(
            ood.relevant.norm(dim=1), torch.full((c.M1_ood,), beta, dtype=D64)
        )
    torch.testing.assert_close(ood.q, ind.q)


def test_odi_inside_span_of_idi_by_default():
    c = cfg(M1=4, M2=8, dX=16, n_train_tasks=4)
    ind = in_domain_patterns(c, 1)
    ood = ood_patterns(c, ind, 1)
    assert float(span_residual(ood.irrelevant, ind.irrelevant).max()) < 1e-10
    # a rotation inside the span: the ODI patterns are not just the IDI patterns
    assert not torch.allclose(ood.irrelevant, ind.irrelevant)
    torch.testing.assert_close(ood.irrelevant.norm(dim=1), ind.irrelevant.norm(dim=1))


@pytest.mark.parametrize("rho", [0.25, 0.6, 1.0])
def test_odi_outside_residual_equals_rho(rho):
    c = cfg(M1=4, M2=8, dX=16, n_train_tasks=4, odi_outside=rho, beta=1.5)
    ind = in_domain_patterns(c, 2)
    ood = ood_patterns(c, ind, 2)
    res = span_residual(ood.irrelevant, ind.irrelevant)
    torch.testing.assert_close(res, torch.full((c.M2,), rho, dtype=D64), rtol=0, atol=1e-10)
    torch.testing.assert_close(ood.irrelevant.norm(dim=1), torch.full((c.M2,), 1.5, dtype=D64))
    # the ODR side is unaffected by odi_outside
    assert float(span_residual(ood.relevant, ind.relevant).max()) < 1e-10


def test_span_residual_basic():
    basis = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=D64)
    v = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0], [1.0, 0.0, 1.0]], dtype=D64)
    torch.testing.assert_close(
        span_residual(v, basis), torch.tensor([0.0, 1.0, 1 / math.sqrt(2)], dtype=D64)
    )


# ============================================================================ tasks


@pytest.mark.parametrize("M", [3, 4, 6])
def test_all_tasks(M):
    T = all_tasks(M)
    assert T.shape == (M * (M - 1), 2)
    assert bool((T[:, 0] != T[:, 1]).all())
    assert len({tuple(t) for t in T.tolist()}) == M * (M - 1)
    assert int(T.min()) == 0 and int(T.max()) == M - 1


@pytest.mark.parametrize("M1,n", [(4, 4), (4, 8), (6, 6), (6, 18), (6, 24)])
def test_uniform_training_tasks_cover_every_pattern_equally(M1, n):
    c = cfg(M1=M1, n_train_tasks=n)
    for seed in range(3):
        T = training_tasks(c, seed)
        assert T.shape == (n, 2)
        assert bool((T[:, 0] != T[:, 1]).all())
        assert len({tuple(t) for t in T.tolist()}) == n  # distinct tasks
        cc = coverage_counts(T, M1)
        assert torch.equal(cc, torch.full((M1, 2), n // M1, dtype=torch.long))


def test_uniform_training_tasks_vary_with_seed():
    c = cfg(M1=6, n_train_tasks=12)
    sets = {tuple(map(tuple, training_tasks(c, s).tolist())) for s in range(8)}
    assert len(sets) > 1


def test_missing_pattern_never_uses_the_pattern():
    c = cfg(M1=6, n_train_tasks=15, coverage="missing_pattern", coverage_pattern=2)
    T = training_tasks(c, 0)
    assert T.shape == (15, 2)
    assert not bool((T == 2).any())
    assert len(tasks_using(T, 2)) == 0
    assert len(tasks_using(T, 0)) > 0
    assert len({tuple(t) for t in T.tolist()}) == 15


def test_missing_pattern_too_many_tasks_raises():
    # (M1 - 1)(M1 - 2) = 20 tasks avoid a pattern when M1 = 6
    c = cfg(M1=6, n_train_tasks=21, coverage="missing_pattern")
    with pytest.raises(ValueError, match="n_train_tasks"):
        training_tasks(c, 0)


def test_one_label_side_pattern_never_on_minus_side():
    c = cfg(M1=6, n_train_tasks=20, coverage="one_label_side", coverage_pattern=4)
    T = training_tasks(c, 1)
    assert T.shape == (20, 2)
    assert not bool((T[:, 1] == 4).any())
    assert bool((T[:, 0] == 4).any())  # 25 eligible tasks, 20 drawn: it appears on the + side
    cc = coverage_counts(T, 6)
    assert int(cc[4, 1]) == 0 and int(cc[4, 0]) > 0


@pytest.mark.parametrize(
    "coverage,n", [("uniform", 12), ("missing_pattern", 10), ("one_label_side", 9)]
)
def test_unseen_tasks_is_the_complement(coverage, n):
    c = cfg(M1=6, n_train_tasks=n, coverage=coverage)
    tr = training_tasks(c, 7)
    un = unseen_tasks(6, tr)
    seen, unseen = {tuple(t) for t in tr.tolist()}, {tuple(t) for t in un.tolist()}
    assert not seen & unseen
    assert seen | unseen == {tuple(t) for t in all_tasks(6).tolist()}
    assert len(un) == 30 - n


def test_unseen_tasks_empty_raises():
    with pytest.raises(ValueError):
        unseen_tasks(3, all_tasks(3))


def test_coverage_counts_explicit():
    T = torch.tensor([[0, 1], [0, 2], [2, 1]])
    assert coverage_counts(T, 4).tolist() == [[2, 0], [0, 2], [1, 1], [0, 0]]


# ============================================================================ prompts


@settings(max_examples=40, deadline=None)
@given(M=st.integers(3, 12), data=st.data())
def test_other_patterns_maps_onto_the_rest(M, data):
    a = data.draw(st.integers(0, M - 1))
    b = data.draw(st.integers(0, M - 1).filter(lambda x: x != a))
    lo, hi = torch.tensor([[min(a, b)]]), torch.tensor([[max(a, b)]])
    r = torch.arange(M - 2)[None, :]
    out = _other_patterns(lo, hi, r)[0].tolist()
    assert sorted(out) == sorted(set(range(M)) - {a, b})  # a bijection onto the other patterns


PS_CFG = dict(M1=6, M2=4, dX=12, dY=3)


def _ps(seed: int = 0, beta: float = 1.0):
    return in_domain_patterns(cfg(**PS_CFG, beta=beta), seed)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.8, 1.0])
def test_iid_context_fractions_match_alpha(alpha):
    ps = _ps()
    a, b = 1, 3
    n, l = 1000, 20
    batch = sample_prompts(
        ps, torch.tensor([[a, b]]), n, l, alpha, 0.5, generator(derive_seed("frac", alpha))
    )
    ctx = batch.ctx_pattern
    N = ctx.numel()
    for observed, p in [
        ((ctx == a).sum(), alpha / 2),
        ((ctx == b).sum(), alpha / 2),
        (((ctx != a) & (ctx != b)).sum(), 1 - alpha),
    ]:
        sigma = math.sqrt(max(p * (1 - p), 1e-12) / N)
        assert abs(int(observed) / N - p) <= 5 * sigma + 1e-12, (observed, p)
    # the other patterns are spread evenly over the M - 2 remaining ones
    others = ctx[(ctx != a) & (ctx != b)]
    if alpha < 1:
        counts = torch.bincount(others, minlength=6).double()
        assert counts[a] == 0 and counts[b] == 0
        p_o = 1 / 4
        sigma = math.sqrt(p_o * (1 - p_o) / len(others))
        for j in (0, 2, 4, 5):
            assert abs(float(counts[j]) / len(others) - p_o) <= 5 * sigma
    else:
        assert others.numel() == 0


def test_labels_in_label_slot_and_query_slot_zero():
    ps = _ps(seed=1, beta=1.5)
    dX, dY = 12, 3
    tasks = torch.tensor([[0, 2], [5, 1], [3, 4]])
    n, l, K = 300, 10, 0.5
    batch = sample_prompts(ps, tasks, n, l, 0.6, K, generator(5), dtype=D64)
    P, ctx, qp, z = batch.P, batch.ctx_pattern, batch.query_pattern, batch.z
    assert P.shape == (n, l + 1, dX + dY)
    # query label slot is zero
    assert torch.equal(P[:, -1, dX:], torch.zeros(n, dY, dtype=D64))
    # the label slot of every context is +-q
    lab = P[:, :l, dX:] @ ps.q  # (n, l) = y since |q| = 1
    torch.testing.assert_close(P[:, :l, dX:], lab[..., None] * ps.q, rtol=0, atol=1e-12)
    torch.testing.assert_close(lab.abs(), torch.ones(n, l, dtype=D64), rtol=0, atol=1e-12)
    # recover each prompt's task (a, b) from the query: a when z = +1, b when z = -1
    # and check the task's own contexts: mu_a -> +q, mu_b -> -q
    is_task = (tasks[None, :, 0] == qp[:, None]) | (tasks[None, :, 1] == qp[:, None])
    assert bool(is_task.any(1).all())
    # each query pattern belongs to exactly one task here, so a and b are determined
    t_idx = is_task.float().argmax(1)
    a, b = tasks[t_idx, 0], tasks[t_idx, 1]
    assert torch.equal(qp, torch.where(z > 0, a, b))
    on_a = ctx == a[:, None]
    on_b = ctx == b[:, None]
    assert on_a.any() and on_b.any()
    assert bool((lab[on_a] > 0).all()) and bool((lab[on_b] < 0).all())
    # other patterns carry a fair random sign: both signs occur
    rest = lab[~on_a & ~on_b]
    assert bool((rest > 0).any()) and bool((rest < 0).any())
    # x carries the recorded relevant pattern: x . mu_j = beta^2 [j = pattern] (orthogonal patterns)
    pat = torch.cat([ctx, qp[:, None]], 1)
    proj = P[..., :dX] @ ps.relevant.T / 1.5**2  # (n, l + 1, M)
    torch.testing.assert_close(
        proj, torch.nn.functional.one_hot(pat, 6).to(D64), rtol=0, atol=1e-10
    )
    # the irrelevant part has norm <= K beta, with weights that use most of the range
    resid = (P[..., :dX] - ps.relevant[pat]).norm(dim=-1)
    assert float(resid.max()) <= K * 1.5 + 1e-10
    assert float(resid.max()) > 0.9 * K * 1.5


def test_same_as_query_property():
    ps = _ps()
    batch = sample_prompts(ps, torch.tensor([[0, 1]]), 50, 6, 0.8, 0.5, generator(2))
    assert torch.equal(batch.same_as_query, batch.ctx_pattern == batch.query_pattern[:, None])


def test_balanced_labels_alternate():
    ps = _ps()
    batch = sample_prompts(ps, torch.tensor([[0, 1], [2, 3]]), 9, 4, 0.8, 0.5, generator(0))
    assert batch.z.tolist() == [1, -1, 1, -1, 1, -1, 1, -1, 1]
    ub = sample_prompts(
        ps, torch.tensor([[0, 1], [2, 3]]), 200, 4, 0.8, 0.5, generator(0), balanced=False
    )
    assert set(ub.z.tolist()) == {1.0, -1.0}
    assert ub.z.tolist()[:10] != [1, -1] * 5 or ub.z.tolist()[10:20] != [1, -1] * 5
    assert abs(float(ub.z.mean())) < 5 / math.sqrt(200)


@pytest.mark.parametrize("alpha,l", [(0.8, 7), (0.5, 10), (1.0, 7), (0.3, 20)])
def test_exact_sampling_counts(alpha, l):
    ps = _ps()
    a, b = 2, 5
    n = 64
    batch = sample_prompts(
        ps, torch.tensor([[a, b]]), n, l, alpha, 0.5, generator(11), sampling="exact"
    )
    n_same = math.ceil(alpha * l / 2)
    n_opp = min(l - n_same, math.floor(alpha * l / 2))
    assert torch.equal(batch.same_as_query.sum(1), torch.full((n,), n_same))
    opp = torch.where(batch.z > 0, b, a)
    assert torch.equal((batch.ctx_pattern == opp[:, None]).sum(1), torch.full((n,), n_opp))
    others = (batch.ctx_pattern != a) & (batch.ctx_pattern != b)
    assert torch.equal(others.sum(1), torch.full((n,), l - n_same - n_opp))
    # the positions are shuffled, not fixed
    assert len({tuple(r) for r in batch.same_as_query.int().tolist()}) > 1


def test_prompt_stream_is_pinned():
    """The prompts built from a member's uniforms define every stored record: a change to how they
    are built (even a faster way to compute the same thing) must reproduce this digest bit for bit,
    or bump harness.claims.grid.ENGINE_VERSION and change the digest deliberately. Covers iid /
    exact sampling, balanced / random query labels, uneven task lists, alpha = 1 and K > 1/2."""
    h = hashlib.sha256()
    g = torch.Generator().manual_seed(2024)
    E, n, l, M, M2 = 3, 16, 9, 6, 5
    U = torch.rand(E, n, l + 1, N_UNIFORMS, generator=g)
    tasks = torch.tensor([[(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)]] * E)
    n_tasks = torch.tensor([6, 4, 1])
    alpha = torch.tensor([0.8, 0.35, 1.0], dtype=torch.float64)
    K = torch.tensor([0.5, 0.25, 2.0], dtype=torch.float64)
    for sampling in ("iid", "exact"):
        for balanced in (True, False):
            f = factor_prompts(
                U, M, M2, tasks, n_tasks, alpha, K, sampling=sampling, balanced=balanced
            )
            for t in (f.pat, f.k, f.kappa, f.y, f.z):
                h.update(t.contiguous().numpy().tobytes())
    assert h.hexdigest() == "43317065892b54da8abc4cae7ef8b4cf85d2d7a20712c269c378e7007f8d235c"


def test_at_least_prompt_stream_is_pinned():
    """As test_prompt_stream_is_pinned, for the paper's test prompts (sampling "at_least", with
    replacement keys), in float32 and float64: the digest was taken with the float-indicator builder
    and the bool-mask one keeps it."""
    h = hashlib.sha256()
    g = torch.Generator().manual_seed(2025)
    E, n, l, M, M2 = 3, 16, 9, 6, 5
    U = torch.rand(E, n, l + 1, N_UNIFORMS, generator=g)
    keys = torch.rand(E, n, l, generator=g)
    tasks = torch.tensor([[(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)]] * E)
    n_tasks = torch.tensor([6, 4, 1])
    alpha = torch.tensor([0.8, 0.35, 1.0], dtype=torch.float64)
    K = torch.tensor([0.5, 0.25, 2.0], dtype=torch.float64)
    for balanced in (True, False):
        for dtype in (torch.float32, torch.float64):
            f = factor_prompts(
                U,
                M,
                M2,
                tasks,
                n_tasks,
                alpha,
                K,
                sampling="at_least",
                balanced=balanced,
                dtype=dtype,
                replace_keys=keys,
            )
            for t in (f.pat, f.k, f.kappa, f.y, f.z):
                h.update(str(t.dtype).encode())
                h.update(t.contiguous().numpy().tobytes())
    assert h.hexdigest() == "b4bce000e7ac41ee5df92fa89c3c1f9c17d386b5cb69ae27f67cfd193515df7d"


def test_unknown_sampling_raises():
    with pytest.raises(ValueError, match="sampling"):
        sample_prompts(_ps(), torch.tensor([[0, 1]]), 4, 4, 0.8, 0.5, generator(0), sampling="nope")


def test_same_generator_seed_gives_identical_batch():
    ps = _ps()
    tasks = torch.tensor([[0, 1], [2, 4], [5, 3]])
    kw = dict(noise=0.3)
    b1 = sample_prompts(ps, tasks, 40, 8, 0.7, 0.5, generator(77), **kw)
    b2 = sample_prompts(ps, tasks, 40, 8, 0.7, 0.5, generator(77), **kw)
    b3 = sample_prompts(ps, tasks, 40, 8, 0.7, 0.5, generator(78), **kw)
    for f in ("P", "z", "ctx_pattern", "query_pattern"):
        assert torch.equal(getattr(b1, f), getattr(b2, f)), f
    assert not torch.equal(b1.P, b3.P)


def test_noise_has_the_requested_expected_norm():
    ps = _ps()
    tasks = torch.tensor([[0, 1]])
    clean = sample_prompts(ps, tasks, 400, 8, 0.8, 0.5, generator(3), dtype=D64)
    noisy = sample_prompts(ps, tasks, 400, 8, 0.8, 0.5, generator(3), noise=0.5, dtype=D64)
    # noise is drawn last, so everything else coincides
    assert torch.equal(clean.ctx_pattern, noisy.ctx_pattern)
    torch.testing.assert_close(clean.P[..., 12:], noisy.P[..., 12:])
    diff = (noisy.P[..., :12] - clean.P[..., :12]).norm(dim=-1)
    assert float(diff.mean()) == pytest.approx(0.5, rel=0.05)


def test_prompt_batch_stack_and_slice():
    ps = _ps()
    bs = [
        sample_prompts(ps, torch.tensor([[0, 1]]), 10, 4, 0.8, 0.5, generator(s)) for s in range(3)
    ]
    st_ = PromptBatch.stack(bs)
    assert (
        st_.P.shape == (3, 10, 5, 15)
        and st_.z.shape == (3, 10)
        and st_.ctx_pattern.shape == (3, 10, 4)
    )
    sl = st_.slice(2, 5)
    assert torch.equal(sl.P, st_.P[:, 2:5]) and torch.equal(sl.z, st_.z[:, 2:5])
    assert torch.equal(sl.ctx_pattern, st_.ctx_pattern[:, 2:5]) and torch.equal(
        sl.query_pattern, st_.query_pattern[:, 2:5]
    )
    assert torch.equal(st_.P[1], bs[1].P)


# ============================================================================ world


def test_world_build_and_test_prompts():
    # every test-prompt knob differs from its training / in-domain counterpart, so mis-wiring shows
    run = small_run(
        seed=3,
        data=dict(
            test_sampling="exact", K=0.5, K_ood=0.3, alpha=0.8, alpha_test=0.6, l_tr=8, l_ts=6
        ),
    )
    w = World.build(run)
    c = run.data
    seen = {tuple(t) for t in w.train_tasks.tolist()}
    assert not seen & {tuple(t) for t in w.test_tasks.tolist()}
    assert len(w.train_tasks) + len(w.test_tasks) == c.M1 * (c.M1 - 1)
    assert len(w.ood_tasks) == c.M1_ood * (c.M1_ood - 1)
    # the wiring: id test prompts come from unseen tasks with l_ts, alpha_test, K; ood from ODR
    # tasks with K_ood;
    # training prompts from T_tr with l_tr, alpha
    tid = w.test_prompts(64, generator(5))
    ref = sample_prompts(
        w.ind, w.test_tasks, 64, c.l_ts, c.alpha_test, c.K, generator(5), sampling=c.test_sampling
    )
    assert torch.equal(tid.P, ref.P) and torch.equal(tid.ctx_pattern, ref.ctx_pattern)
    tod = w.test_prompts(64, generator(6), domain="ood")
    ref = sample_prompts(
        w.ood,
        w.ood_tasks,
        64,
        c.l_ts,
        c.alpha_test,
        c.K_ood,
        generator(6),
        sampling=c.test_sampling,
    )
    assert torch.equal(tod.P, ref.P)
    ttr = w.train_prompts(64, generator(7))
    ref = sample_prompts(w.ind, w.train_tasks, 64, c.l_tr, c.alpha, c.K, generator(7))
    assert torch.equal(ttr.P, ref.P)
    # ood prompts are built from the ODR patterns (x . mu' = |mu'|^2 for the query's pattern)
    tood = w.test_prompts(32, w.eval_generator("y"), domain="ood", dtype=D64)
    x = tood.P[:, -1, : c.dX]
    mu = w.ood.relevant[tood.query_pattern]
    torch.testing.assert_close((x * mu).sum(-1), (mu * mu).sum(-1), rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="domain"):
        w.test_prompts(4, w.eval_generator("z"), domain="bad")
    # same world from the same run
    w2 = World.build(run)
    assert torch.equal(w.train_tasks, w2.train_tasks) and torch.equal(
        w.ind.relevant, w2.ind.relevant
    )
    # eval generators are named: different names, different draws
    assert not torch.equal(
        torch.rand(4, generator=w.eval_generator("a")),
        torch.rand(4, generator=w.eval_generator("b")),
    )
