"""Train once, measure many times: stored models, eval-only changes, integrity of model files."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import TINY_SETTING, small_run, write_claim

from harness.claims.grid import expand
from harness.claims.schema import load_claim
from harness.run.execution import execute, make_executor
from harness.run.model_store import MODELS, ModelStore
from harness.run.paths import store_root
from harness.run.runner import run_claims
from harness.run.store import Store
from harness.training.trainer import train_ensemble

CLAIM = (
    """id = "{id}"
source = "test"
statement = "tiny"
kind = "trend"
"""
    + TINY_SETTING.format(steps=30)
    + """batch = 16
eval_every = 10
n_eval = 64
chunk = 10
[eval]
n_test = {n_test}
[grid]
"data.alpha" = [{alphas}]
{s1}
[metric]
name = "{metric}"
domain = "{domain}"
x = "{x}"
{eps}
[prediction]
direction = "decreasing"
[profiles.quick]
replicates = 2
[profiles.nightly]
replicates = 2
"""
)


def _claim(tmp_path, name="tiny", *, data="", n_test=100, alphas="0.4, 0.8", curve=False):
    """The tiny trend claim; `data` adds lines to its [setting.data]; `curve`: steps to eps (read
    off the checkpoint curves) against alpha instead of the OOD error against S1."""
    text = CLAIM.format(
        id=name,
        n_test=n_test,
        alphas=alphas,
        s1="" if curve else '"data.S1" = [0.5, 1.0]',
        metric="steps_to_eps" if curve else "error_rate",
        domain="id" if curve else "ood",
        x="data.alpha" if curve else "data.S1",
        eps="eps = 0.3" if curve else "",
    )
    text = text.replace("[setting.model]", f"{data}\n[setting.model]")
    return load_claim(write_claim(tmp_path / "claims" / name, name, text), "quick")


def _run(claims, results):
    ex = make_executor("local")
    return run_claims(claims, results, ex, progress=False)


def _same(a, b):
    """Same verdicts and bit-identical measurements."""
    for x, y in zip(a, b, strict=True):
        assert x.verdict.verdict == y.verdict.verdict
        assert x.verdict.measurement == y.verdict.measurement
        assert [r.measurements for r in x.records] == [r.measurements for r in y.records]


@pytest.mark.parametrize(
    "change",
    [
        {"n_test": 150},
        {"data": 'test_sampling = "iid"'},
        {"data": 'ood_spread = "one"'},
        {"data": "ood_coef_spread = 0.4"},
    ],
    ids=["n_test", "test_sampling", "ood_spread", "ood_coef_spread"],
)
def test_an_eval_only_change_trains_nothing_and_matches_an_empty_store(tmp_path, change):
    results = tmp_path / "results"
    base = _run([_claim(tmp_path)], results)
    assert sum(r.counts["done"] for r in base) > 0
    changed = _claim(tmp_path, "tiny", **change)
    again = _run([changed], results)
    assert sum(r.counts["done"] for r in again) == 0, [r.counts for r in again]
    assert sum(r.counts["measured"] for r in again) > 0
    _same(again, _run([changed], tmp_path / "fresh"))


def test_a_new_claim_on_trained_configs_trains_nothing(tmp_path):
    results = tmp_path / "results"
    _run([_claim(tmp_path)], results)
    other = _claim(tmp_path, "other", alphas="0.8", n_test=120)
    again = _run([other], results)
    assert sum(r.counts["done"] for r in again) == 0
    _same(again, _run([other], tmp_path / "fresh"))


def test_a_curve_under_new_test_prompts_replays_the_training(tmp_path):
    """steps_to_eps reads the checkpoint curves, which read the test prompts: a new test sampling
    trains the model again (a replay) and gives what an empty store gives."""
    results = tmp_path / "results"
    _run([_claim(tmp_path, "curve", curve=True)], results)
    changed = _claim(tmp_path, "curve", data='test_sampling = "iid"', curve=True)
    again = _run([changed], results)
    assert sum(r.counts["done"] for r in again) > 0
    _same(again, _run([changed], tmp_path / "fresh"))
    same_prompts = _run([_claim(tmp_path, "curve", n_test=150, curve=True)], results)
    assert sum(r.counts["done"] for r in same_prompts) == 0


def test_test_fields_leave_the_trained_weights_bit_identical():
    runs = [
        small_run(3),
        small_run(3, data=dict(test_sampling="iid", l_ts=12, alpha_test=0.5, S1=1.4)),
        small_run(3, data=dict(ood_spread="one", M1_ood=4, K_ood=0.3, test_on="pattern")),
        small_run(3, train=dict(eval_every=5, n_eval=32, checkpoint_ood=False)),
    ]
    states = [train_ensemble([r]).model.state_dict() for r in runs]
    for s in states[1:]:
        assert all(torch.equal(states[0][k], s[k]) for k in s)
    units = [dataclasses.replace(u, run=r) for u, r in zip([_unit()] * 4, runs)]
    assert len({u.train_key for u in units}) == 1
    assert len({u.curve_key for u in units}) == 4


def _unit():
    from harness.claims.grid import Unit

    return Unit("c", {}, 0, small_run(3), [{}], {"n_test": 10})


@pytest.mark.parametrize("damage", ["tampered", "missing", "truncated"])
def test_a_damaged_model_file_is_quarantined_and_trained_again(tmp_path, damage):
    claim = _claim(tmp_path, alphas="0.4")
    units = expand(claim)
    ex = make_executor("local")
    store = Store(store_root(tmp_path / "results"))
    assert execute(units, store, ex, progress=False)["done"] == 2
    models = ModelStore(store)
    key = units[0].train_key
    weights = models.weights_path(key)
    if damage == "tampered":
        data = bytearray(weights.read_bytes())
        data[-30] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "missing":
        weights.unlink()
    else:
        weights.write_bytes(weights.read_bytes()[:100])
    # the unit records are gone too, so the model is needed again
    for p in store.paths("units"):
        p.unlink()
    lines: list[str] = []
    store.log = lines.append
    counts = execute(units, store, ex, progress=False, log=lines.append)
    assert counts["done"] == 1 and counts["measured"] == 1, counts
    assert len(lines) == 1 and key in lines[0] and "trained again" in lines[0]
    assert list((store.dir / "quarantine" / MODELS).iterdir())
    assert models.load(key) is not None
