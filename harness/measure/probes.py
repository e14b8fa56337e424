"""Probes of the trained model's mechanism (docs/paper.md §2: attention, MLP).

- attention mass on same-pattern contexts: see `evaluation.evaluate`;
- rows of W_O W_V split into a feature part (first dX columns) and a label part
  (last dY columns): cosines to the mean IDR pattern and to sign(a_i) q;
- W_O row norms and how bimodal they are;
- the query/key projections (`qk_projection`): how long W_Q p_query and W_K p_i are for
  pattern columns, and which fraction of them lies along the column's relevant pattern.
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


def neuron_probe(
    model: EnsembleICLTransformer, e: int, mean_idr: torch.Tensor, q: torch.Tensor, dX: int
) -> NeuronProbe:
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
            best = (float(within), k, float(hi.exp().mean() / lo.exp().mean()))
    _, k, ratio = best
    return (n - k) / n, ratio


# the order of a History.qk entry
QK_FIELDS = ("query_norm", "query_fraction", "key_norm", "key_fraction")


@torch.no_grad()
def qk_projection(
    model: EnsembleICLTransformer, relevant: torch.Tensor, q: torch.Tensor
) -> torch.Tensor:
    """(E, 4) per member: mean |W_Q p| over the query columns p = (mu_j; 0), the mean fraction |<W_Q
    p, u_j>| / |W_Q p| along u_j = (mu_j / |mu_j|; 0), and the same for W_K over the context columns
    p = (mu_j; +-q) (both labels).

    relevant (E, M1, dX), q (E, dY). The fraction needs W_Q p in the embedding space (mb = d, as at
    the identity initialisation): NaN otherwise. At init (W = delta I) the norms are delta |mu|
    (query) and delta sqrt(|mu|^2 + 1) (key), the fractions 1 and |mu| / sqrt(|mu|^2 + 1)."""
    WQ, WK = model.W_Q.detach().double(), model.W_K.detach().double()  # (E, mb, d)
    rel, qq = relevant.to(WQ).contiguous(), q.to(WQ)
    E, M, dX = rel.shape
    d = WQ.shape[-1]
    zeros = torch.zeros(E, M, d - dX, dtype=WQ.dtype, device=WQ.device)
    u = torch.cat([rel / rel.norm(dim=-1, keepdim=True), zeros], dim=-1)  # (E, M, d)
    Pq = torch.cat([rel, zeros], dim=-1)
    Pk = torch.cat(
        [torch.cat([rel, s * qq[:, None, :].expand(E, M, -1)], dim=-1) for s in (1.0, -1.0)], dim=1
    )
    uk = torch.cat([u, u], dim=1)

    def one(W: torch.Tensor, P: torch.Tensor, U: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = P @ W.transpose(1, 2)  # (E, n, mb)
        norm = v.norm(dim=-1)
        frac = (
            ((v * U).sum(-1).abs() / norm.clamp_min(1e-30))
            if W.shape[1] == d
            else torch.full_like(norm, float("nan"))
        )
        return norm.mean(-1), frac.mean(-1)

    qn, qf = one(WQ, Pq, u)
    kn, kf = one(WK, Pk, uk)
    return torch.stack([qn, qf, kn, kf], dim=-1).cpu()
