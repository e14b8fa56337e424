"""Probes of the trained model's mechanism (SPEC 2: attention, MLP).

- attention mass on same-pattern contexts: see `evaluation.evaluate`;
- rows of W_O W_V split into a feature part (first dX columns) and a label part
  (last dY columns): cosines to the mean IDR pattern and to sign(a_i) q;
- W_O row norms and how bimodal they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models import EnsembleICLTransformer


@dataclass
class NeuronProbe:
    label_cos: torch.Tensor  # (m,) cosine of the label part of row i with sign(a_i) q
    feature_cos: torch.Tensor  # (m,) cosine of the feature part with the mean IDR pattern
    row_norms: torch.Tensor  # (m,) norms of W_O rows


def neuron_probe(model: EnsembleICLTransformer, e: int, mean_idr: torch.Tensor, q: torch.Tensor, dX: int) -> NeuronProbe:
    """Probe member e; mean_idr (dX,), q (dY,) from that member's world."""
    W = (model.W_O[e] @ model.W_V[e]).detach().double()  # (m, d)
    sign = torch.sign(model.a[e].detach()).double()
    feat, lab = W[:, :dX], W[:, dX:]
    cos = lambda X, v: (X @ v) / (X.norm(dim=1) * v.norm()).clamp_min(1e-30)  # noqa: E731
    return NeuronProbe(
        label_cos=cos(lab, q.double().to(W.device)) * sign,
        feature_cos=cos(feat, mean_idr.double().to(W.device)),
        row_norms=model.W_O[e].detach().double().norm(dim=1),
    )


def two_cluster_split(values: torch.Tensor) -> tuple[float, float]:
    """Best 1-D two-means split of log(values) (Otsu): (fraction in the upper cluster,
    ratio of the cluster means). A ratio well above 1 with a constant upper
    fraction is the "bimodal row norms" the paper predicts."""
    x = torch.sort(values.double().clamp_min(1e-30).log()).values
    n = x.numel()
    best = (float("inf"), 1, 1.0)
    for k in range(1, n):
        lo, hi = x[:k], x[k:]
        within = ((lo - lo.mean()) ** 2).sum() + ((hi - hi.mean()) ** 2).sum()
        if within < best[0]:
            best = (float(within), k, float((hi.exp().mean() / lo.exp().mean())))
    _, k, ratio = best
    return (n - k) / n, ratio
