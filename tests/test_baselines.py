"""Classical baselines fitted on each prompt's context examples: labels read off the label
slot, each baseline on a tiny hand-made prompt, the one-class rule, error counting, the
'best' reduction, and that measure_ensemble pairs them with the Transformer on the same prompts."""

from __future__ import annotations

import pytest
import torch
from conftest import CLAIMS_DIR, small_run, write_claim

import harness.measure.ensemble as metrics
from harness.claims.grid import Unit
from harness.claims.schema import ClaimError, load_claim
from harness.measure.baselines import (
    BASELINES,
    METHODS,
    BaselineCache,
    baseline_errors,
    context_examples,
    predict,
)
from harness.training.trainer import train_ensemble
from harness.world.prompts import PromptBatch

Q = torch.tensor([0.6, 0.8])  # label direction, dY = 2


def hand_prompt(
    ctx: list[tuple[float, float, int]], query: tuple[float, float], z: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A prompt with dX = 2, dY = 2: columns [x; y q], the query's label slot 0."""
    cols = [torch.cat([torch.tensor([a, b]), y * Q]) for a, b, y in ctx]
    cols.append(torch.cat([torch.tensor(query), torch.zeros(2)]))
    return torch.stack(cols), torch.tensor(float(z))


# two clusters: near (1, 0) labelled +1, near (0, 1) labelled -1
CTX = [
    (1.0, 0.1, 1),
    (0.9, -0.1, 1),
    (1.1, 0.0, 1),
    (0.0, 1.0, -1),
    (0.1, 0.9, -1),
    (-0.1, 1.1, -1),
]


def batch_of(prompts: list[tuple[torch.Tensor, torch.Tensor]], E: int = 1) -> PromptBatch:
    P = torch.stack([p for p, _ in prompts])
    z = torch.stack([zz for _, zz in prompts])
    l = P.shape[1] - 1
    b = PromptBatch(
        P,
        z,
        torch.zeros(len(prompts), l, dtype=torch.long),
        torch.zeros(len(prompts), dtype=torch.long),
    )
    return PromptBatch.stack([b] * E)


def test_context_examples_read_labels_off_the_label_slot():
    P, _ = hand_prompt(CTX, (1.0, 0.0), 1)
    X, y, xq = context_examples(P[None], Q, dX=2)
    assert X.shape == (1, 6, 2) and y.shape == (1, 6) and xq.shape == (1, 2)
    assert y[0].tolist() == [1, 1, 1, -1, -1, -1]
    assert xq[0].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("name", BASELINES)
def test_each_baseline_on_a_hand_made_prompt(name):
    P1, _ = hand_prompt(CTX, (1.0, 0.05), 1)
    P2, _ = hand_prompt(CTX, (0.05, 1.0), -1)
    X, y, xq = context_examples(torch.stack([P1, P2]), Q, dX=2)
    assert predict(name, X, y, xq).tolist() == [1, -1]


@pytest.mark.parametrize("name", BASELINES)
def test_one_class_contexts_predict_that_class(name):
    P, _ = hand_prompt([(1.0, 0.0, -1), (0.0, 1.0, -1), (0.5, 0.5, -1)], (5.0, 5.0), 1)
    X, y, xq = context_examples(P[None], Q, dX=2)
    assert predict(name, X, y, xq).tolist() == [-1]


def test_knn3_with_fewer_contexts_than_neighbours():
    P, _ = hand_prompt([(1.0, 0.0, 1), (0.0, 1.0, -1)], (0.9, 0.1), 1)
    X, y, xq = context_examples(P[None], Q, dX=2)
    assert predict("knn3", X, y, xq).shape == (1,)
    assert predict("knn1", X, y, xq).tolist() == [1]


def test_baseline_errors_count_per_member_and_best_is_the_minimum():
    right = hand_prompt(CTX, (1.0, 0.05), 1)
    # the query's true label disagrees with its neighbours
    wrong = hand_prompt(CTX, (1.0, 0.05), -1)
    b = batch_of([right, wrong, wrong], E=2)
    q = torch.stack([Q, Q])
    for name in BASELINES:
        assert baseline_errors(b, q, 2, name).tolist() == [2, 2]
    cache = BaselineCache()
    best = cache.errors(("k",), "best", b, q, 2)
    manual = torch.stack([baseline_errors(b, q, 2, n) for n in BASELINES]).min(0).values
    assert best.tolist() == manual.tolist()
    with pytest.raises(ValueError, match="baseline"):
        baseline_errors(b, q, 2, "forest")
    assert METHODS[0] == "transformer" and METHODS[-1] == "best"


def test_measure_ensemble_pairs_baselines_with_the_transformer_on_the_same_prompts(monkeypatch):
    runs = [small_run(seed=s, train=dict(steps=5, eval_every=5)) for s in (1, 2)]
    te = train_ensemble(runs)
    evaluated: list[PromptBatch] = []
    fitted: list[PromptBatch] = []
    real_eval, real_base = metrics.evaluate, metrics.BaselineCache.errors

    def spy_eval(model, batch, *a, **k):
        evaluated.append(batch)
        return real_eval(model, batch, *a, **k)

    def spy_base(self, key, method, batch, q, dX):
        fitted.append(batch)
        return real_base(self, key, method, batch, q, dX)

    monkeypatch.setattr(metrics, "evaluate", spy_eval)
    monkeypatch.setattr(metrics.BaselineCache, "errors", spy_base)
    points = [
        {"data.l_ts": l, "baseline.method": m}
        for l in (4, 6)
        for m in ("transformer", "knn1", "best")
    ]
    units = [Unit("x", {}, e, r, points, {"n_test": 12, "chunk": 2048}) for e, r in enumerate(runs)]
    out = metrics.measure_ensemble(te.model, te.worlds, units[0].eval_points, units[0].eval, "cpu")
    id_batches = evaluated[0::2]  # evaluate is called for the in-domain then the OOD batch
    assert len(id_batches) == 2 and len(fitted) >= 4
    for f in fitted:
        same = [b for b in id_batches if b.P.shape == f.P.shape]
        assert same and torch.equal(same[0].P, f.P) and torch.equal(same[0].z, f.z)
    meas = out[0].measurements
    assert [m.point["baseline.method"] for m in meas] == [p["baseline.method"] for p in points]
    for m in meas:
        assert 0 <= m.err_id <= 12 and m.n == 12
    # knn1's errors at l_ts = 4 are those of knn1 fitted on the transformer's prompts
    knn1 = baseline_errors(
        id_batches[0], torch.stack([w.ind.q for w in te.worlds]), te.worlds[0].cfg.dX, "knn1"
    )
    assert [out[e].measurements[1].err_id for e in range(2)] == knn1.tolist()


def test_claim_validation_of_the_baseline_axis(tmp_path):
    text = (CLAIMS_DIR / "icl-vs-baselines.toml").read_text()
    good = write_claim(tmp_path, "icl-vs-baselines", text)
    c = load_claim(good, "quick")
    assert "baseline.method" in c.eval_axes
    bad = tmp_path / "y.toml"
    bad.write_text(
        text.replace('id = "icl-vs-baselines"', 'id = "y"').replace('"knn3", ', '"knn5", ')
    )
    with pytest.raises(ClaimError, match="baseline.method"):
        load_claim(bad, "quick")
    bad.write_text(
        text.replace('id = "icl-vs-baselines"', 'id = "y"').replace(
            'domain = "id"', 'domain = "ood"'
        )
    )
    with pytest.raises(ClaimError, match="in-domain only"):
        load_claim(bad, "quick")


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("l", [1, 2, 5, 20])
def test_vectorised_knn_equals_sklearn_when_distances_do_not_tie(k, l):
    """Continuous contexts (no equal distances): the torch k-NN gives exactly the answer of
    one scikit-learn KNeighborsClassifier fitted per prompt (the one-class rule applied to both)."""
    import numpy as np

    from harness.measure.baselines import knn_predict, make_estimator

    rng = np.random.default_rng(7 + l + k)
    n, dX = 300, 6
    X, xq = rng.normal(size=(n, l, dX)), rng.normal(size=(n, dX))
    y = rng.choice([-1, 1], size=(n, l))
    want = np.empty(n, dtype=np.int64)
    for i in range(n):
        if np.all(y[i] == y[i, 0]):
            want[i] = y[i, 0]
        else:
            want[i] = make_estimator(f"knn{k}", l).fit(X[i], y[i]).predict(xq[i : i + 1])[0]
    assert knn_predict(k, X, y, xq).tolist() == want.tolist()


def test_vectorised_knn1_breaks_distance_ties_by_the_lowest_context_index():
    import numpy as np

    from harness.measure.baselines import knn_predict

    # orthonormal patterns: every other pattern is at the same distance sqrt(2) from the query
    X = np.eye(4)[None, 1:, :]  # contexts e1, e2, e3
    y = np.array([[-1, 1, 1]])
    xq = np.eye(4)[None, 0]
    assert knn_predict(1, X, y, xq).tolist() == [-1]
    assert knn_predict(1, X, -y, xq).tolist() == [1]
    # an exact match wins over the tie
    X2 = np.concatenate([X, xq[:, None, :]], axis=1)
    assert knn_predict(1, X2, np.array([[-1, -1, -1, 1]]), xq).tolist() == [1]
