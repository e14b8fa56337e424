"""The deep (GPT-2-style) ensemble Transformer and its integration: shapes, masking,
autograd-consistent training steps (SGD and Adam), ensemble == solo, attention
probes, pruning over the last block's MLP neurons, config and metric plumbing."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import CLAIMS_DIR, make_record, small_run, write_claim

from harness.claims.metrics import check_metric, metric_rows
from harness.claims.schema import load_claim
from harness.measure.architectures import ARCHITECTURES
from harness.measure.ensemble import measure_ensemble, neuron_rows
from harness.measure.evaluation import evaluate
from harness.measure.pruning import prune_mask
from harness.training.trainer import init_ensemble, train_ensemble
from harness.world.config import ModelConfig, RunConfig, TrainConfig
from harness.world.seeding import derive_seed, generator
from models import EnsembleDeepTransformer
from models.deep_transformer import PARAM_NAMES

DEEP = dict(arch="deep", depth=2, heads=2, width=8, mlp_width=12)


def deep_run(
    seed: int = 0, *, data: dict | None = None, model: dict | None = None, train: dict | None = None
) -> RunConfig:
    t = dict(optimizer="adam", eta=0.01, steps=6, eval_every=3, n_eval=16, chunk=3, batch=8)
    t.update(train or {})
    return small_run(seed, data=data, model={**DEEP, **(model or {})}, train=t)


def make_model(E: int = 3, dtype=torch.float64, **kw) -> EnsembleDeepTransformer:
    runs = [deep_run(seed=s, model=kw) for s in range(E)]
    return init_ensemble(runs, "cpu", dtype)


def prompts(
    E: int, n: int, l: int, d: int = 12, seed: int = 0, dtype=torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    P = torch.randn(E, n, l + 1, d, generator=g, dtype=dtype)
    P[:, :, -1, 8:] = 0.0  # the query's label slot (dX = 8 in small_run)
    z = torch.where(torch.rand(E, n, generator=g) < 0.5, 1.0, -1.0).to(dtype)
    return P, z


def test_shapes_and_attention_outputs():
    model = make_model(E=3)
    P, _ = prompts(3, 5, 7)
    F = model(P)
    assert F.shape == (3, 5)
    F2, A = model(P, return_attention=True)
    torch.testing.assert_close(F, F2)
    assert A.shape == (3, 5, 7)
    F3, A3, AL = model.forward_layers(P)
    assert AL.shape == (3, 2, 2, 5, 8)  # (E, L, H, n, l + 1)
    torch.testing.assert_close(A3, A)
    torch.testing.assert_close(A, AL[:, -1, :, :, :-1].mean(1))
    assert model.query_attention(P).shape == (3, 2, 2, 5, 8)
    assert model.prune_weights.shape == (3, 12, 8)
    assert model.size == 3 and model.depth == 2 and model.width == 8 and model.mlp_width == 12


def test_attention_per_layer_and_head_sums_to_one():
    model = make_model(E=2)
    P, _ = prompts(2, 4, 6)
    AL = model.query_attention(P)
    torch.testing.assert_close(AL.sum(-1), torch.ones(2, 2, 2, 4, dtype=AL.dtype))
    assert bool((AL >= 0).all())
    _, A = model(P, return_attention=True)
    # over the contexts only: the query's weight on itself is left out
    assert bool((A.sum(-1) <= 1 + 1e-12).all())


def test_context_permutation_invariance_and_any_context_length():
    """No positional embedding: F does not depend on the contexts' order, and any l works."""
    model = make_model(E=2)
    P, _ = prompts(2, 3, 6)
    perm = torch.tensor([3, 0, 5, 1, 4, 2, 6])
    torch.testing.assert_close(model(P), model(P[:, :, perm]))
    P9, _ = prompts(2, 3, 9)
    assert model(P9).shape == (2, 3)


def test_contexts_do_not_attend_to_the_query(monkeypatch):
    """Masking: context columns attend to the contexts (and themselves) only, so their states
    entering every later block are the same whatever the query is."""
    model = make_model(E=1, depth=3)
    seen: list[torch.Tensor] = []
    inner = model._attend

    def spy(hq, hkv, i, mask):
        seen.append(hkv.detach().clone())
        return inner(hq, hkv, i, mask)

    monkeypatch.setattr(model, "_attend", spy)
    P, _ = prompts(1, 2, 5)
    P2 = P.clone()
    P2[:, :, -1, :8] += 3.0  # change only the query's input
    model(P)
    first = seen[:]
    seen.clear()
    model(P2)
    assert len(first) == 3
    for a, b in zip(first, seen):
        torch.testing.assert_close(a[:, :, :-1], b[:, :, :-1])  # the contexts' states
    # the query's state does change
    assert not torch.allclose(first[1][:, :, -1], seen[1][:, :, -1])


def test_hinge_grads_match_per_member_autograd():
    model = make_model(E=3)
    P, z = prompts(3, 6, 5)
    loss, grads = model.hinge_loss_and_grads(P, z)
    assert set(grads) == set(PARAM_NAMES)
    for e in range(3):
        solo = EnsembleDeepTransformer.from_members([model.member(e)], heads=2)
        Fe = solo(P[e : e + 1])
        le = torch.relu(1 - z[e : e + 1] * Fe).mean()
        ge = torch.autograd.grad(le, [getattr(solo, k) for k in PARAM_NAMES])
        assert float(loss[e]) == pytest.approx(float(le.detach()), rel=1e-10)
        for k, gk in zip(PARAM_NAMES, ge):
            torch.testing.assert_close(
                grads[k][e], gk[0], rtol=1e-9, atol=1e-12, msg=lambda s, k=k: f"{k}: {s}"
            )


def _first_step(optimizer: str):
    r = deep_run(seed=3, train=dict(optimizer=optimizer, steps=1, eval_every=1, eta=0.05))
    w0 = init_ensemble([r], "cpu").member(0)
    te = train_ensemble([r])
    w1 = te.model.member(0)
    # recompute the first batch's gradient from the same data stream
    from harness.training.stream import TrainingStream
    from harness.world.world import World

    model = init_ensemble([r], "cpu")
    stream = TrainingStream([World.build(r)], [r], torch.device("cpu"), torch.float32)
    chunk = stream.next(r.train.chunk * r.train.batch)
    _, grads = stream.loss_and_grads(model, chunk.slice(0, r.train.batch))
    return r, w0, w1, grads


def test_sgd_step_is_w_minus_eta_grad():
    r, w0, w1, grads = _first_step("sgd")
    for k in PARAM_NAMES:
        torch.testing.assert_close(
            w1[k],
            w0[k] - r.train.eta * grads[k][0],
            rtol=1e-5,
            atol=1e-6,
            msg=lambda s, k=k: f"{k}: {s}",
        )


def test_adam_first_step_is_eta_times_normalised_grad():
    r, w0, w1, grads = _first_step("adam")
    for k in PARAM_NAMES:
        g = grads[k][0]
        expected = w0[k] - r.train.eta * g / (g.abs() + 1e-8)  # bias-corrected first Adam step
        torch.testing.assert_close(
            w1[k], expected, rtol=1e-4, atol=1e-5, msg=lambda s, k=k: f"{k}: {s}"
        )


def test_deep_ensemble_equals_solo_training():
    runs = [
        deep_run(seed=s, data=dict(alpha=a), train=dict(eta=eta))
        for s, a, eta in ((1, 0.8, 0.01), (2, 0.6, 0.02))
    ]
    ens = train_ensemble(runs)
    assert ens.failed == [False, False]
    for e, r in enumerate(runs):
        solo = train_ensemble([r])
        for k in PARAM_NAMES:
            torch.testing.assert_close(
                ens.model.member(e)[k], solo.model.member(0)[k], rtol=1e-4, atol=1e-5
            )
        he, hs = ens.histories[e], solo.histories[0]
        assert he.steps == hs.steps
        # [checkpoint][L][H]
        assert len(he.attn_id_layers) == len(he.steps) and len(he.attn_id_layers[0]) == 2
        for x, y in zip(he.train_loss[1:], hs.train_loss[1:]):
            assert x == pytest.approx(y, rel=1e-4, abs=1e-6)
    assert not torch.allclose(ens.model.W_fc[0], ens.model.W_fc[1])


def test_init_is_seeded_per_member():
    runs = [deep_run(seed=s) for s in (5, 6)]
    ens = init_ensemble(runs, "cpu")
    for e, r in enumerate(runs):
        solo = init_ensemble([r], "cpu")
        for k in PARAM_NAMES:
            torch.testing.assert_close(ens.member(e)[k], solo.member(0)[k], rtol=0, atol=0)
    g = generator(derive_seed(5, "init"))
    w = EnsembleDeepTransformer.initial_weights(12, 2, 2, 8, 12, 0.02, g)
    torch.testing.assert_close(w["W_qkv"], ens.member(0)["W_qkv"], rtol=0, atol=0)


def test_pruning_mask_zeroes_last_block_mlp_neurons():
    model = make_model(E=2)
    P, _ = prompts(2, 4, 5)
    ones = torch.ones(2, model.mlp_width, dtype=P.dtype)
    torch.testing.assert_close(model(P, neuron_mask=ones), model(P))
    # removing every neuron equals zeroing the last block's MLP output weights
    zeroed = EnsembleDeepTransformer.from_members(
        [model.member(e) for e in range(2)], heads=2
    ).double()
    with torch.no_grad():
        zeroed.W_fc2[:, -1].zero_()
    torch.testing.assert_close(model(P, neuron_mask=torch.zeros_like(ones)), zeroed(P))
    # magnitude pruning ranks the rows of prune_weights (the last block's W_fc)
    mask = prune_mask(neuron_rows(model), 0.25, "small")
    assert mask.shape == (2, 12) and int(mask.sum()) == 2 * 9
    norms = model.W_fc[:, -1].detach().norm(dim=-1)
    for e in range(2):
        assert float(norms[e][mask[e] == 0].max()) <= float(norms[e][mask[e] == 1].min())
    assert not torch.allclose(model(P, neuron_mask=mask), model(P))


def test_config_fields_and_shape_key():
    base = RunConfig()
    deep = dataclasses.replace(base, model=dataclasses.replace(base.model, arch="deep"))
    assert base.model.arch == "paper" and base.train.optimizer == "sgd"
    assert base.shape_key() != deep.shape_key()
    for field, value in (("depth", 2), ("heads", 4), ("width", 32), ("mlp_width", 100)):
        other = dataclasses.replace(deep, model=dataclasses.replace(deep.model, **{field: value}))
        assert other.shape_key() != deep.shape_key(), field
    adam = dataclasses.replace(base, train=dataclasses.replace(base.train, optimizer="adam"))
    assert adam.shape_key() != base.shape_key()
    assert base.non_default_dict() == {"seed": 0}  # new defaults leave stored keys unchanged
    assert ModelConfig(arch="deep", width=64).deep_mlp_width == 256
    with pytest.raises(ValueError, match="unknown model architecture 'gpt'"):
        # names are checked by the registry, not the config
        ARCHITECTURES.get(ModelConfig(arch="gpt").validate().arch)
    for kw, msg in (
        (dict(arch=""), "arch"),
        (dict(width=10, heads=3), "width"),
        (dict(depth=0), "depth"),
        (dict(init_std=0.0), "init_std"),
    ):
        with pytest.raises(ValueError, match=msg):
            ModelConfig(**kw).validate()
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop").validate()


def test_evaluate_and_measure_give_per_layer_mass():
    r = deep_run(seed=2)
    te = train_ensemble([r])
    w = te.worlds[0]
    batch = w.test_prompts(20, w.eval_generator("t"))
    from harness.world.prompts import PromptBatch

    res = evaluate(te.model, PromptBatch.stack([batch]))
    assert res.attn_layers.shape == (1, 2, 2)
    AL = te.model.query_attention(PromptBatch.stack([batch]).P)
    expected = (AL[..., :-1] * batch.same_as_query[None, None, None]).sum(-1).mean(-1)
    torch.testing.assert_close(res.attn_layers, expected.double(), rtol=1e-6, atol=1e-6)

    from harness.claims.grid import Unit

    unit = Unit(
        "x",
        {},
        0,
        r,
        [
            {"prune.mode": "small", "prune.fraction": 0.0},
            {"prune.mode": "small", "prune.fraction": 0.5},
        ],
        {"n_test": 20, "chunk": 2048},
    )
    out = measure_ensemble(te.model, te.worlds, unit.eval_points, unit.eval, "cpu")
    meas = out[0].measurements
    assert len(meas[0].attn_id_layers) == 2 and len(meas[0].attn_id_layers[0]) == 2
    probes = out[0].probes
    assert 0 < probes.large_neuron_fraction <= 1  # row-norm split of the last block's MLP neurons
    record = make_record(measurements=meas, history=te.histories[0], config=r)

    class C:
        metric = {"name": "attn_mass_layer", "domain": "id", "layer": 0, "head": 0}
        select: dict = {}

    rows = metric_rows(C, record)
    per_layer = [sum(h) / 2 for h in meas[0].attn_id_layers]
    assert rows[0].value == pytest.approx(min(per_layer))
    C.metric = {"name": "attn_mass_layer", "domain": "id", "layer": 2, "head": 1}
    assert metric_rows(C, record)[0].value == pytest.approx(meas[0].attn_id_layers[1][0])
    C.metric = {"name": "attn_mass_layer", "domain": "id", "layer": 1, "at": "initial"}
    assert metric_rows(C, record)[0].value == pytest.approx(
        sum(te.histories[0].attn_id_layers[0][0]) / 2
    )


def test_attn_mass_layer_needs_the_deep_model(tmp_path):
    text = (CLAIMS_DIR / "deep-attn-concentration.toml").read_text()
    ok = write_claim(tmp_path, "deep-attn-concentration", text)
    c = load_claim(ok, "quick")
    assert check_metric(c) is None
    bad = tmp_path / "x.toml"
    bad.write_text(
        text.replace('id = "deep-attn-concentration"', 'id = "x"').replace(
            'arch = "deep"', 'arch = "paper"'
        )
    )
    with pytest.raises(ValueError, match="attn_mass_layer"):
        load_claim(bad, "quick")
    bad.write_text(
        text.replace('id = "deep-attn-concentration"', 'id = "x"').replace("layer = 0", "layer = 4")
    )
    with pytest.raises(ValueError, match="metric.layer"):
        load_claim(bad, "quick")


@pytest.mark.slow
def test_deep_and_baseline_claims_end_to_end(tmp_path):
    """Tiny deep and baseline claim files through the CLI: verdicts, per-layer and per-method
    tables and plots in the report (the shipped claims use the same code paths at full size)."""
    import json

    from harness.cli import main

    claims = tmp_path / "claims"
    claims.mkdir()
    tiny = (
        "[setting.data]\nM1 = 4\nM2 = 4\ndX = 8\ndY = 4\nl_tr = 8\nl_ts = 8\nn_train_tasks = 8\n"
        "[setting.train]\nsteps = 40\nbatch = 16\neval_every = 20\nn_eval = 32\nchunk = 20\n"
    )
    (claims / "_base.toml").write_text(tiny + "[eval]\nn_test = 40\n")
    (claims / "d.toml").write_text(
        'id = "d"\nsource = "s"\nstatement = "s"\nkind = "threshold"\nfigure = '
        '"attention_by_layer"\n'
        '[setting.model]\narch = "deep"\ndepth = 2\nheads = 2\nwidth = 8\nmlp_width = 8\n'
        '[setting.train]\noptimizer = "adam"\neta = 0.01\n'
        '[grid]\n"prune.mode" = ["small"]\n"prune.fraction" = [0.0, 0.25]\n'
        '[metric]\nname = "attn_mass_layer"\nlayer = 0\n[prediction]\nrelation = ">="\nthreshold = '
        "0.0\n"
        "[profiles.quick]\nreplicates = 2\n[profiles.nightly]\nreplicates = 2\n"
    )
    (claims / "b.toml").write_text(
        'id = "b"\nsource = "s"\nstatement = "s"\nkind = "comparison"\nfigure = '
        '"baselines_by_context_length"\n'
        '[grid]\n"data.l_ts" = [4, 8]\n"baseline.method" = ["transformer", "knn1", "svm_rbf", '
        '"best"]\n'
        '[metric]\nname = "error_rate"\na = { "baseline.method" = "transformer" }\nb = { '
        '"baseline.method" = "best" }\n'
        '[prediction]\nrelation = "<="\nmargin = 1.0\n'
        "[profiles.quick]\nreplicates = 2\n[profiles.nightly]\nreplicates = 2\n"
    )
    out = tmp_path / "run"
    rc = main(
        [
            "run",
            str(claims),
            "--results",
            str(tmp_path / "results"),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    verdicts = {
        v["claim_id"]: v for v in json.loads((out / "verdicts.json").read_text())["verdicts"]
    }
    # both predictions hold of any model (mass >= 0, error within 1), so their controls (the
    # untrained models) meet them too: vacuous, not CONFIRMED
    for cid in ("d", "b"):
        v = verdicts[cid]
        assert (v["verdict"], v["vacuous"], v["control"]["name"]) == ("INCONCLUSIVE", True, "init")
    report = (out / "report.md").read_text()
    assert "block" in report and "mass at step" in report
    assert "svm_rbf" in report and "l_ts=4" in report
    assert (out / "plots" / "d-attention_by_layer.png").exists()
    assert (out / "plots" / "b-baselines_by_context_length.png").exists()
