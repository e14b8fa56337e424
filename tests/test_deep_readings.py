"""The deep model's GPT-2 readings (docs/calibration.md, "The deep model against a GPT-2 block"):
GPT-2's causal mask (`model.mask = "causal"`) and its learned absolute positions
(`model.positions = P`), beside the defaults (contexts as a set, no positions)."""

from __future__ import annotations

import pytest
import torch
from conftest import small_run
from test_deep_model import DEEP, make_model, prompts

from harness.training.trainer import train_ensemble
from harness.world.config import ModelConfig, RunConfig
from harness.world.seeding import generator
from models import EnsembleDeepTransformer
from models.deep_transformer import PARAM_NAMES

PERM = torch.tensor([3, 0, 5, 1, 4, 2, 6])  # the 6 contexts reordered, the query (6) last


def test_the_causal_mask_makes_the_contexts_order_matter_and_hides_later_contexts(monkeypatch):
    model = make_model(E=1, depth=3, mask="causal", init_std=0.5)  # 0.02: a tiny effect
    P, _ = prompts(1, 3, 6)
    assert not torch.allclose(model(P), model(P[:, :, PERM]))
    seen: list[torch.Tensor] = []
    inner = model._attend
    monkeypatch.setattr(
        model, "_attend", lambda hq, hkv, i, m: seen.append(hkv) or inner(hq, hkv, i, m)
    )
    model(P)
    first = [h.detach().clone() for h in seen]
    seen.clear()
    P2 = P.clone()
    P2[:, :, 4] += 3.0  # change context 4 only: contexts 0..3 never see it
    model(P2)
    for a, b in zip(first, seen):
        torch.testing.assert_close(a[:, :, :4], b[:, :, :4])
    assert not torch.allclose(first[1][:, :, 5], seen[1][:, :, 5])  # context 5 does see it


def test_the_set_mask_is_the_default_and_order_free():
    model = make_model(E=1, depth=3, init_std=0.5)
    assert model.mask == "set" and "wpe" not in model.names
    P, _ = prompts(1, 3, 6)
    torch.testing.assert_close(model(P), model(P[:, :, PERM]))


def test_learned_positions_are_drawn_last_and_make_order_matter():
    plain = EnsembleDeepTransformer.initial_weights(12, 2, 2, 8, 12, 0.02, generator(3))
    pos = EnsembleDeepTransformer.initial_weights(12, 2, 2, 8, 12, 0.02, generator(3), positions=9)
    assert set(pos) == set(PARAM_NAMES) | {"wpe"} and pos["wpe"].shape == (9, 8)
    for k in PARAM_NAMES:  # every other weight as without positions
        torch.testing.assert_close(plain[k], pos[k], rtol=0, atol=0)
    model = make_model(E=2, positions=9, init_std=0.5)
    P, _ = prompts(2, 3, 6)
    assert not torch.allclose(model(P), model(P[:, :, PERM]))
    with pytest.raises(ValueError, match="10 columns, positions for 9"):
        model(prompts(2, 3, 9)[0])


@pytest.mark.parametrize("model", [dict(mask="causal"), dict(positions=16)])
def test_each_reading_trains_members_as_alone(model):
    runs = [small_run(s, model={**DEEP, **model}, train=dict(steps=6, eval_every=3, n_eval=16,
                                                           chunk=3, batch=8, eta=0.05))
            for s in (1, 2)]  # fmt: skip
    ens = train_ensemble(runs)
    assert ens.failed == [False, False]
    solo = train_ensemble(runs[1:])
    for k in ens.model.names:
        torch.testing.assert_close(
            ens.model.member(1)[k], solo.model.member(0)[k], rtol=1e-4, atol=1e-5
        )
    assert ens.model.mask == runs[0].model.mask


def test_bad_readings_are_errors_naming_the_key():
    with pytest.raises(ValueError, match="mask must be 'set' or 'causal'"):
        ModelConfig(mask="bidirectional").validate()
    with pytest.raises(ValueError, match="positions must be a non-negative integer"):
        ModelConfig(positions=-1).validate()
    run = small_run(0, model={**DEEP, "positions": 4})
    with pytest.raises(ValueError, match=r"positions must be >= \d+ \(the longest prompt"):
        RunConfig(run.data, run.model, run.train).validate()
    assert (
        small_run(0, model={**DEEP, "mask": "causal"}).shape_key()
        != small_run(0, model=DEEP).shape_key()
    )
