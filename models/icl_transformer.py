"""The paper's one-layer, one-head Transformer, as an ensemble of E independent models.

    F(Psi; P) = a^T ReLU( W_O sum_i W_V p_i softmax_i( (W_K p_i)^T W_Q p_query ) )

Shapes: E members, n prompts, l context columns, d = dX + dY, m neurons,
ma value width, mb query/key width. Every member has its own weights; the
members never interact, so member e trained in an ensemble equals member e
trained alone.

Two evaluations of the same function:
- `forward`: plain torch ops (autograd-able), with the reassociation
  sum_i W_V p_i A_i = W_V (sum_i A_i p_i) and s_i = p_i^T (W_K^T (W_Q p_q)).
- `hinge_loss_and_grads`: the hinge loss and its hand-written gradients in one
  pass, used by the trainer; tested against autograd and the literal
  per-model formula in `reference.py`.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.functional import embedding


class EnsembleICLTransformer(nn.Module):
    def __init__(
        self,
        W_Q: torch.Tensor,
        W_K: torch.Tensor,
        W_V: torch.Tensor,
        W_O: torch.Tensor,
        a: torch.Tensor,
        train_a: bool = False,
    ):
        super().__init__()
        self.W_Q = nn.Parameter(W_Q)  # (E, mb, d)
        self.W_K = nn.Parameter(W_K)  # (E, mb, d)
        self.W_V = nn.Parameter(W_V)  # (E, ma, d)
        self.W_O = nn.Parameter(W_O)  # (E, m, ma)
        self.a = nn.Parameter(a, requires_grad=train_a)  # (E, m), fixed in the paper
        self.train_a = train_a

    @staticmethod
    def initial_weights(
        d: int,
        m: int,
        ma: int,
        mb: int,
        delta: float,
        wo_std: float,
        a_scale: float,
        g: torch.Generator,
        dtype: torch.dtype = torch.float32,
    ) -> dict[str, torch.Tensor]:
        """One member's initial weights (docs/paper.md §1.5): delta * I for W_Q, W_K, W_V
        (rectangular identity when ma, mb != d), W_O ~ N(0, wo_std^2 / ma),
        a_i = +a_scale for the first m/2 neurons and -a_scale for the rest
        (a_scale = 1/sqrt(m) when 0)."""
        dev = g.device
        eye = lambda r: delta * torch.eye(r, d, dtype=dtype, device=dev)  # noqa: E731
        W_O = torch.randn(m, ma, generator=g, dtype=torch.float64, device=dev).to(dtype) * (
            wo_std / math.sqrt(ma)
        )
        s = a_scale or 1.0 / math.sqrt(m)
        a = torch.cat([torch.full((m // 2,), s), torch.full((m - m // 2,), -s)]).to(
            dtype=dtype, device=dev
        )
        return {"W_Q": eye(mb), "W_K": eye(mb), "W_V": eye(ma), "W_O": W_O, "a": a}

    @classmethod
    def from_members(
        cls, members: list[dict[str, torch.Tensor]], train_a: bool = False
    ) -> EnsembleICLTransformer:
        """Stack per-member weight dicts into one ensemble."""
        st = {k: torch.stack([w[k] for w in members]) for k in ("W_Q", "W_K", "W_V", "W_O", "a")}
        return cls(st["W_Q"], st["W_K"], st["W_V"], st["W_O"], st["a"], train_a=train_a)

    def member(self, e: int) -> dict[str, torch.Tensor]:
        """Member e's weights (detached copies)."""
        return {k: getattr(self, k)[e].detach().clone() for k in ("W_Q", "W_K", "W_V", "W_O", "a")}

    @staticmethod
    def flops_per_member_step(n: int, l: int, d: int, m: int, ma: int, mb: int) -> int:
        """Multiply-add FLOPs (x2) of one member's forward + hand-written backward on n prompts:
        the matrix products of `hinge_loss_and_grads` (elementwise work not counted)."""
        return 2 * n * (5 * mb * d + 4 * l * d + 3 * d * ma + 3 * ma * m)

    @staticmethod
    def flops_per_member_step_factored(
        n: int, l: int, dX: int, dY: int, M: int, M2: int, m: int, ma: int, mb: int
    ) -> int:
        """FLOPs (x2 per multiply-add) executed by `hinge_loss_and_grads_factored` on n prompts:
        its matrix products plus the l-long gathers/scatters (counted as one multiply-add each)."""
        d = dX + dY
        # c_dot twice (s, dA): products with the pattern tables
        proj = 2 * (dX * (M + M2)) + 2 * (dX * (M + M2))
        scat = 2 * (dX * (M + M2))  # c_weighted twice (u, dw)
        per_l = 4 * 3 * l  # gathers / scatter-adds / label terms over the contexts
        # qv, w, dqv, dW_K, dW_Q; v, dW_V, du; h, dW_O, dv
        dense = 3 * mb * d + 2 * mb * d + 3 * d * ma + 3 * ma * m
        return 2 * n * (proj + scat + per_l + dense)

    @property
    def size(self) -> int:
        return self.W_O.shape[0]

    def attention(self, P: torch.Tensor) -> torch.Tensor:
        """Softmax attention of the query over the l context columns: (E, n, l)."""
        C, pq = P[:, :, :-1, :], P[:, :, -1, :]  # (E, n, l, d), (E, n, d)
        w = (pq @ self.W_Q.transpose(1, 2)) @ self.W_K  # (E, n, d) = W_K^T W_Q p_q
        s = (C @ w.unsqueeze(-1)).squeeze(-1)  # (E, n, l)
        return torch.softmax(s, dim=-1)

    def forward(
        self,
        P: torch.Tensor,
        neuron_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """F for every member and prompt: (E, n). P: (E, n, l + 1, d).

        neuron_mask (E, m) of 0/1 removes W_O rows (pruning) by zeroing their output.
        """
        A = self.attention(P)  # (E, n, l)
        u = (A.unsqueeze(-2) @ P[:, :, :-1, :]).squeeze(-2)  # (E, n, d) attention-weighted columns
        v = u @ self.W_V.transpose(1, 2)  # (E, n, ma)
        h = v @ self.W_O.transpose(1, 2)  # (E, n, m)
        if neuron_mask is not None:
            h = h * neuron_mask[:, None, :]
        F = (torch.relu(h) * self.a[:, None, :]).sum(-1)  # (E, n)
        return (F, A) if return_attention else F

    @torch.no_grad()
    def hinge_loss_and_grads(
        self, P: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Per-member mean hinge loss max(0, 1 - z F) (E,) and its gradients.

        Hand-written backward of `forward` (see module docstring); each member's
        gradient is that of its own mean loss over its n prompts.
        """
        C, pq = P[:, :, :-1, :], P[:, :, -1, :]  # (E, n, l, d), (E, n, d)
        n = P.shape[1]
        qv = pq @ self.W_Q.transpose(1, 2)  # (E, n, mb)
        w = qv @ self.W_K  # (E, n, d)
        s = (C @ w.unsqueeze(-1)).squeeze(-1)  # (E, n, l)
        A = torch.softmax(s, dim=-1)
        u = (A.unsqueeze(-2) @ C).squeeze(-2)  # (E, n, d)
        v = u @ self.W_V.transpose(1, 2)  # (E, n, ma)
        h = v @ self.W_O.transpose(1, 2)  # (E, n, m)
        r = torch.relu(h)
        F = (r * self.a[:, None, :]).sum(-1)  # (E, n)
        margin = 1.0 - z * F
        loss = torch.relu(margin).mean(-1)  # (E,)

        dF = -z * (margin > 0).to(P.dtype) / n  # (E, n)
        dh = dF.unsqueeze(-1) * self.a[:, None, :] * (h > 0).to(P.dtype)  # (E, n, m)
        dW_O = dh.transpose(1, 2) @ v  # (E, m, ma)
        dv = dh @ self.W_O  # (E, n, ma)
        dW_V = dv.transpose(1, 2) @ u  # (E, ma, d)
        du = dv @ self.W_V  # (E, n, d)
        dA = (C @ du.unsqueeze(-1)).squeeze(-1)  # (E, n, l)
        ds = A * (dA - (A * dA).sum(-1, keepdim=True))  # softmax backward
        dw = (ds.unsqueeze(-2) @ C).squeeze(-2)  # (E, n, d)
        dW_K = qv.transpose(1, 2) @ dw  # (E, mb, d)
        dqv = dw @ self.W_K.transpose(1, 2)  # (E, n, mb)
        dW_Q = dqv.transpose(1, 2) @ pq  # (E, mb, d)
        grads = {"W_Q": dW_Q, "W_K": dW_K, "W_V": dW_V, "W_O": dW_O}
        if self.train_a:
            grads["a"] = (dF.unsqueeze(-1) * r).sum(1)  # (E, m)
        return loss, grads

    @torch.no_grad()
    def hinge_loss_and_grads_factored(
        self,
        rel: torch.Tensor,
        irr: torch.Tensor,
        q: torch.Tensor,
        pat: torch.Tensor,
        k: torch.Tensor,
        kappa: torch.Tensor,
        y: torch.Tensor,
        z: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The same loss and gradients as `hinge_loss_and_grads`, for prompts given in
        factored form: column i is [rel[pat_i] + kappa_i irr[k_i] ; y_i q] (query: y = 0).

        rel (E, M, dX), irr (E, M2, dX), q (E, dY); pat, k, kappa (E, n, l + 1);
        y (E, n, l); z (E, n). Every product with the context matrix C is computed
        in pattern space (gather after multiplying by the M + M2 patterns, or
        scatter-add then multiply), so C is never materialised: the training data
        costs O(l) numbers per prompt instead of O(l d).
        """
        return factored_hinge_loss_and_grads(
            self.W_Q,
            self.W_K,
            self.W_V,
            self.W_O,
            self.a,
            self.train_a,
            rel,
            irr,
            q,
            pat,
            k,
            kappa,
            y,
            z,
        )


def factored_hinge_loss_and_grads(
    W_Q: torch.Tensor,
    W_K: torch.Tensor,
    W_V: torch.Tensor,
    W_O: torch.Tensor,
    a: torch.Tensor,
    train_a: bool,
    rel: torch.Tensor,
    irr: torch.Tensor,
    q: torch.Tensor,
    pat: torch.Tensor,
    k: torch.Tensor,
    kappa: torch.Tensor,
    y: torch.Tensor,
    z: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """`EnsembleICLTransformer.hinge_loss_and_grads_factored` on plain tensors (weights as
    arguments), so that the trainer can hand it to torch.compile once for every ensemble."""
    E, n, l1 = pat.shape
    l = l1 - 1
    dX = rel.shape[-1]
    M, M2 = rel.shape[1], irr.shape[1]
    dt = rel.dtype
    pc, kc, kac = pat[..., :l], k[..., :l], kappa[..., :l]  # contexts (E, n, l)
    # the query's pattern rows, looked up in the flattened tables
    e = torch.arange(E, device=rel.device)[:, None]
    x_q = embedding(pat[..., l] + e * M, rel.reshape(E * M, dX)) + kappa[..., l, None] * embedding(
        k[..., l] + e * M2, irr.reshape(E * M2, dX)
    )
    # (E, n, d)
    pq = torch.cat([x_q, torch.zeros(E, n, q.shape[-1], dtype=dt, device=rel.device)], dim=-1)
    relT, irrT = rel.transpose(1, 2), irr.transpose(1, 2)  # (E, dX, M), (E, dX, M2)

    def c_dot(vec: torch.Tensor) -> torch.Tensor:
        """(E, n, d) -> C_i . vec for every context: (E, n, l)."""
        vx, vy = vec[..., :dX], vec[..., dX:]
        out = torch.gather(vx @ relT, 2, pc) + kac * torch.gather(vx @ irrT, 2, kc)
        return out + y * (vy * q[:, None, :]).sum(-1, keepdim=True)

    def c_weighted(wts: torch.Tensor) -> torch.Tensor:
        """(E, n, l) weights -> sum_i wts_i C_i: (E, n, d)."""
        wr = torch.zeros(E, n, M, dtype=dt, device=rel.device).scatter_add_(2, pc, wts)
        wi = torch.zeros(E, n, M2, dtype=dt, device=rel.device).scatter_add_(2, kc, wts * kac)
        ux = wr @ rel + wi @ irr  # (E, n, dX)
        return torch.cat([ux, (wts * y).sum(-1, keepdim=True) * q[:, None, :]], dim=-1)

    qv = pq @ W_Q.transpose(1, 2)  # (E, n, mb)
    w = qv @ W_K  # (E, n, d)
    A = torch.softmax(c_dot(w), dim=-1)  # (E, n, l)
    u = c_weighted(A)  # (E, n, d)
    v = u @ W_V.transpose(1, 2)  # (E, n, ma)
    h = v @ W_O.transpose(1, 2)  # (E, n, m)
    r = torch.relu(h)
    F = (r * a[:, None, :]).sum(-1)  # (E, n)
    margin = 1.0 - z * F
    loss = torch.relu(margin).mean(-1)

    dF = -z * (margin > 0) / n  # a bool factor is cast inside the product, not in a pass of its own
    dh = (dF.unsqueeze(-1) * a[:, None, :]).mul_(h > 0)
    dW_O = dh.transpose(1, 2) @ v
    dv = dh @ W_O
    dW_V = dv.transpose(1, 2) @ u
    du = dv @ W_V
    dA = c_dot(du)
    ds = A * (dA - (A * dA).sum(-1, keepdim=True))
    dw = c_weighted(ds)
    dW_K = qv.transpose(1, 2) @ dw
    dqv = dw @ W_K.transpose(1, 2)
    dW_Q = dqv.transpose(1, 2) @ pq
    grads = {"W_Q": dW_Q, "W_K": dW_K, "W_V": dW_V, "W_O": dW_O}
    if train_a:
        grads["a"] = (dF.unsqueeze(-1) * r).sum(1)
    return loss, grads
