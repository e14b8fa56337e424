"""Pattern sets: IDR/IDI patterns (orthogonal or with a set coherence) and OOD patterns.

A `PatternSet` holds the relevant patterns (the ones that decide labels), the
irrelevant ones (added with a random weight kappa) and the label direction q.
In-domain: relevant = mu (M1 x dX), irrelevant = nu (M2 x dX).
Out-of-domain: relevant = mu' = C mu with row sums S1, irrelevant = nu' in span(nu)
(or partly outside it on request).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.world.config import DataConfig, gram_matrix
from harness.world.seeding import derive_seed, generator

# ood_spread -> one line for reports (docs/paper.md §1.4: how sum c = S1 spreads over the IDR
# patterns)
OOD_READINGS = {
    "one": "each ODR pattern is S1 times one IDR pattern (|mu'| = |S1| beta)",
    "pair": (
        "each ODR pattern mixes its own group of g = M1 // M1' IDR patterns (a pair at M1 = 6,"
        " M1' = 3), coefficients summing to S1 (|mu'| ~ S1 beta / sqrt g)"
    ),
    "all": (
        "each ODR pattern mixes all M1 IDR patterns, coefficients summing to S1"
        " (|mu'| ~ S1 beta / sqrt M1)"
    ),
}
OOD_RENORMALISE = {  # ood_renormalise -> one line for reports
    False: (
        "ODR patterns not renormalised: their length changes with the coefficients"
        " (the paper's reading)"
    ),
    True: "ODR patterns renormalised to norm beta, coefficients still summing to S1",
}


def ood_reading(cfg: DataConfig) -> str:
    """The OOD reading of a data config in one line (spread; renormalisation)."""
    return (
        f"ood_spread={cfg.ood_spread}: {OOD_READINGS[cfg.ood_spread]}; "
        f"ood_renormalise={cfg.renormalised}: {OOD_RENORMALISE[cfg.renormalised]}"
    )


@dataclass
class PatternSet:
    relevant: torch.Tensor  # (M, dX)
    irrelevant: torch.Tensor  # (M2, dX)
    q: torch.Tensor  # (dY,), unit norm
    coef: torch.Tensor | None = None  # (M', M1) for OOD sets: relevant = coef @ mu

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> PatternSet:
        def mv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype or t.dtype)

        return PatternSet(mv(self.relevant), mv(self.irrelevant), mv(self.q), mv(self.coef))


def _orthonormal_columns(dX: int, k: int, g: torch.Generator) -> torch.Tensor:
    """A random dX x k matrix with orthonormal columns (QR of a Gaussian, sign-fixed)."""
    A = torch.randn(dX, k, generator=g, dtype=torch.float64)
    Q, R = torch.linalg.qr(A)
    return Q * torch.sign(torch.diagonal(R))[None, :]


def in_domain_patterns(cfg: DataConfig, seed: int) -> PatternSet:
    """IDR/IDI patterns with the configured norms and coherences (float64).

    With zero coherences and no jitter they are exactly orthogonal with norm beta.
    Construction: V = L Q^T with L L^T the target Gram matrix and Q orthonormal.
    """
    g = generator(derive_seed(seed, "patterns"))
    n = cfg.M1 + cfg.M2
    u = torch.rand(n, generator=g, dtype=torch.float64)
    norms = cfg.beta * (1.0 + cfg.beta_jitter * (2.0 * u - 1.0))
    G = gram_matrix(cfg, norms)
    try:
        L = torch.linalg.cholesky(G)
    except RuntimeError:
        raise ValueError(
            "coherence_rel/coherence_irr/coherence_cross must give a positive-definite Gram "
            "matrix, got "
            f"({cfg.coherence_rel}, {cfg.coherence_irr}, {cfg.coherence_cross})"
        ) from None
    Q = _orthonormal_columns(cfg.dX, n, g)
    V = L @ Q.T  # (n, dX)
    qg = generator(derive_seed(seed, "label-direction"))
    q = torch.randn(cfg.dY, generator=qg, dtype=torch.float64)
    q = q / q.norm()
    return PatternSet(relevant=V[: cfg.M1].clone(), irrelevant=V[cfg.M1 :].clone(), q=q)


def ood_coefficients(cfg: DataConfig, seed: int) -> torch.Tensor:
    """(M1', M1) coefficients with row sums exactly S1, under the config's OOD reading [choose]
    (docs/paper.md §1.4).

    `ood_spread` picks the IDR patterns of row j: "one" (pattern j), "pair" (the disjoint group j g
    .. j g + g - 1 of g = M1 // M1' patterns: the pair 2j, 2j + 1 in the paper's M1 = 6, M1' = 3;
    leftover indices unused) or "all" (all M1). With disjoint groups, ODR patterns built from
    orthogonal IDR patterns are orthogonal. With g patterns per row and u ~ U(-1, 1)^g drawn per
    row:

    - not renormalised (the paper's reading, default): c = S1 (1/g + s (u - mean u)), s =
      ood_coef_spread;
      the ODR norm then changes with S1 (about |S1| beta / sqrt(g) for orthogonal IDR patterns of
      norm beta).
    - renormalised (`ood_renormalise`, or the legacy ood_coef_mode = "unit_norm"): c = S1/g + r with
      r
      orthogonal to 1 inside the group and |c| = 1, so the ODR pattern keeps the norm beta and S1
      enters only through the coefficient sum (needs |S1| <= sqrt(g); |S1| = 1 for "one");
      ood_coef_spread is unused.
    """
    g_ = generator(derive_seed(seed, "ood-coefficients"))
    Mp, M1 = cfg.M1_ood, cfg.M1
    size = cfg.ood_group_size
    C = torch.zeros(Mp, M1, dtype=torch.float64)
    for j in range(Mp):
        u = 2.0 * torch.rand(size, generator=g_, dtype=torch.float64) - 1.0
        if cfg.renormalised:
            r = u - u.mean()
            rest = 1.0 - cfg.S1**2 / size
            r = r / r.norm().clamp_min(1e-12) * max(rest, 0.0) ** 0.5
            c = cfg.S1 / size + r
        else:
            c = cfg.S1 * (1.0 / size + cfg.ood_coef_spread * (u - u.mean()))
        lo = 0 if cfg.ood_spread == "all" else j * size
        C[j, lo : lo + size] = c
    return C


def ood_patterns(cfg: DataConfig, ind: PatternSet, seed: int) -> PatternSet:
    """ODR patterns mu' = C mu (row sums S1) and ODI patterns nu'.

    nu' spans the same subspace as nu (a random rotation inside span(nu)); with
    odi_outside = rho > 0 each nu'_k = sqrt(1 - rho^2) * inside_k + rho * outside_k,
    outside_k a unit vector orthogonal to span(nu) (scaled to the pattern norm).
    """
    C = ood_coefficients(cfg, seed)
    relevant = C @ ind.relevant
    g = generator(derive_seed(seed, "odi"))
    nu = ind.irrelevant  # (M2, dX)
    M2 = nu.shape[0]
    R, _ = torch.linalg.qr(torch.randn(M2, M2, generator=g, dtype=torch.float64))
    inside = R @ nu  # rotation inside span(nu): same norms when nu is orthogonal
    irrelevant = inside
    if cfg.odi_outside > 0:
        # orthonormal basis of span(nu), then project random vectors off it
        Qn, _ = torch.linalg.qr(nu.T)  # (dX, M2)
        raw = torch.randn(M2, cfg.dX, generator=g, dtype=torch.float64)
        out = raw - (raw @ Qn) @ Qn.T
        out = out / out.norm(dim=1, keepdim=True) * inside.norm(dim=1, keepdim=True)
        rho = cfg.odi_outside
        irrelevant = (1.0 - rho**2) ** 0.5 * inside + rho * out
    return PatternSet(relevant=relevant, irrelevant=irrelevant, q=ind.q.clone(), coef=C)


def span_residual(vectors: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Norm of each row of `vectors` outside span(rows of `basis`), relative to its norm."""
    Qb, _ = torch.linalg.qr(basis.T.to(torch.float64))
    v = vectors.to(torch.float64)
    res = v - (v @ Qb) @ Qb.T
    return res.norm(dim=1) / v.norm(dim=1)


def max_coherence(patterns: torch.Tensor) -> float:
    """Largest |cosine| between two distinct rows."""
    u = patterns / patterns.norm(dim=1, keepdim=True)
    c = (u @ u.T).abs()
    c.fill_diagonal_(0.0)
    return float(c.max())
