"""Classical baselines fitted on the context examples of each test prompt (scikit-learn).

For a prompt P = [[x_1 .. x_l, x_q], [y_1 q .. y_l q, 0]] a baseline sees the
l context examples (x_i = the first dX entries of column i, label
y_i = sign(<label slot, q>), so +q -> +1 and -q -> -1), is fitted on them alone,
and predicts the query's label from x_q. Contexts carrying an irrelevant task
pattern keep their random labels: that noise is part of the task, for the
baselines as for the Transformer. A prompt whose contexts are all of one class
is answered with that class (the estimators need two classes).

Baselines (scikit-learn defaults unless stated, [choose]):
- "logreg": L2 logistic regression, C = 1, solver newton-cholesky (the lbfgs
  optimum, unpenalised intercept; much faster on 20-point problems);
- "svm_linear": SVC(kernel="linear", C=1);
- "svm_rbf": SVC(kernel="rbf", C=1, gamma="scale");
- "knn1", "knn3": k-nearest neighbours with 1 / 3 neighbours (Euclidean, majority
  vote; min(k, l) neighbours when a prompt has fewer than k contexts), computed for
  all prompts at once in torch (`knn_predict`): the nightly lts-alpha grid asks for
  about two million of these tiny fits, which one scikit-learn estimator per prompt
  could not finish. It gives scikit-learn's KNeighborsClassifier answer whenever
  the k nearest contexts are unambiguous; among contexts at exactly the same
  distance it takes the lowest context index (scikit-learn leaves that order to
  its search algorithm), and a tied vote goes to -1 (scikit-learn's first class).
"best" is, per member and eval point, the smallest error count among the five:
the best baseline chosen after seeing its test errors, which favours the
baselines (a conservative opponent for a claim that in-context learning wins).

`baseline_errors` counts errors on exactly the prompts the Transformer is
evaluated on (`harness.measure.ensemble.measure_ensemble` passes it the same stacked batch), so
comparisons are paired on the prompts as well as on the seed.

`no_match_probability` is the combinatorial floor beside them: the chance that
no context of a test prompt shares the query's relevant pattern (then no learner
reading the contexts does better than a coin on it): 0 under the "at_least" and
"exact" test samplings by construction, (1 - alpha'/2)^l under "iid".
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from harness.world.prompts import PromptBatch

BASELINES = ("logreg", "svm_linear", "svm_rbf", "knn1", "knn3")
METHODS = ("transformer",) + BASELINES + ("best",)  # values of the eval axis "baseline.method"


def no_match_probability(sampling: str, alpha_test: float, l: int) -> float:
    """P(no context of a test prompt shares the query's pattern) under the test sampling
    (harness.world.prompts)."""
    if sampling == "iid":
        return (1.0 - alpha_test / 2.0) ** l
    if sampling in ("at_least", "exact"):
        return 0.0  # at least ceil(alpha' l / 2) >= 1 same-pattern contexts
    raise ValueError(f"sampling must be 'at_least', 'iid' or 'exact', got {sampling!r}")


def chance_floor(sampling: str, alpha_test: float, l: int) -> float:
    """The error a context-reading learner cannot avoid from prompts with no same-pattern context (a
    coin on them)."""
    return 0.5 * no_match_probability(sampling, alpha_test, l)


def context_examples(
    P: torch.Tensor, q: torch.Tensor, dX: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One member's prompts P (n, l + 1, d) and label direction q (dY,) ->
    context inputs X (n, l, dX), context labels y (n, l) in {+1, -1}, query inputs xq (n, dX)."""
    P = P.detach().double().cpu()
    X = P[:, :-1, :dX]
    s = P[:, :-1, dX:] @ q.detach().double().cpu()
    y = torch.where(s >= 0, 1, -1)
    return X.numpy(), y.numpy(), P[:, -1, :dX].numpy()


def make_estimator(name: str, n_ctx: int):
    """A fresh scikit-learn classifier for baseline `name` (n_ctx: context examples in the prompt);
    `predict` answers knn1 / knn3 with `knn_predict` instead, checked against this one in the tests.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    if name == "logreg":
        return LogisticRegression(C=1.0, solver="newton-cholesky")
    if name == "svm_linear":
        return SVC(kernel="linear", C=1.0)
    if name == "svm_rbf":
        return SVC(kernel="rbf", C=1.0, gamma="scale")
    if name in ("knn1", "knn3"):
        return KNeighborsClassifier(n_neighbors=min(int(name[-1]), n_ctx))
    raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {name!r}")


def knn_predict(k: int, X: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """k-NN predictions in {+1, -1} (n,) for every prompt at once: X (n, l, dX), y (n, l), xq (n,
    dX).

    Squared distances are summed from exact differences in float64 (no
    |a|^2 - 2ab + |b|^2 cancellation), so equal distances compare equal; a stable
    sort then takes the lowest context index among them."""
    Xt, yt, qt = (
        torch.from_numpy(np.asarray(X, dtype=np.float64)),
        torch.from_numpy(np.asarray(y)),
        torch.from_numpy(np.asarray(xq, dtype=np.float64)),
    )
    n, l = yt.shape
    kk = min(k, l)
    d2 = (Xt - qt[:, None, :]).pow(2).sum(-1)  # (n, l)
    idx = torch.sort(d2, dim=1, stable=True).indices[:, :kk]  # (n, kk) nearest contexts
    # (n,) sum of +-1 labels; one-class contexts vote for their class
    votes = yt.gather(1, idx).sum(1)
    return torch.where(votes > 0, 1, -1).to(torch.int64).numpy()


def predict(name: str, X: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Predictions in {+1, -1} (n,) of baseline `name`, fitted separately on each prompt's
    contexts."""
    if name in ("knn1", "knn3"):
        return knn_predict(int(name[-1]), X, y, xq)
    n, l = y.shape
    out = np.empty(n, dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on tiny separable problems
        for i in range(n):
            yi = y[i]
            if np.all(yi == yi[0]):
                out[i] = yi[0]
                continue
            est = make_estimator(name, l).fit(X[i], yi)
            out[i] = int(est.predict(xq[i : i + 1])[0])
    return out


def baseline_errors(batch: PromptBatch, q: torch.Tensor, dX: int, name: str) -> torch.Tensor:
    """(E,) error counts of baseline `name` on a stacked batch (E, n, ...); q (E, dY) per member."""
    if name not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {name!r}")
    errs = []
    for e in range(batch.P.shape[0]):
        X, y, xq = context_examples(batch.P[e], q[e], dX)
        pred = predict(name, X, y, xq)
        z = batch.z[e].detach().cpu().numpy()
        errs.append(int((pred != z).sum()))
    return torch.tensor(errs, dtype=torch.long)


class BaselineCache:
    """Error counts per (prompt-set key, method) so that each baseline is fitted once per
    prompt set, and "best" reuses the five."""

    def __init__(self) -> None:
        self._errs: dict[tuple, torch.Tensor] = {}

    def errors(
        self, key: tuple, method: str, batch: PromptBatch, q: torch.Tensor, dX: int
    ) -> torch.Tensor:
        if method == "best":
            return torch.stack([self.errors(key, b, batch, q, dX) for b in BASELINES]).min(0).values
        k = (key, method)
        if k not in self._errs:
            self._errs[k] = baseline_errors(batch, q, dX, method)
        return self._errs[k]
