"""The paper's formula written literally for one model: the plain baseline.

    F = a^T ReLU( W_O sum_i (W_V p_i) softmax_i( (W_K p_i)^T (W_Q p_query) ) )

No reassociation, no ensemble dimension, autograd for gradients. Used as the
reference the fast ensemble path is tested against, and as the per-model
training loop that benchmarks compare with.
"""

from __future__ import annotations

import torch
from torch import nn


class ReferenceICLTransformer(nn.Module):
    def __init__(
        self,
        W_Q: torch.Tensor,
        W_K: torch.Tensor,
        W_V: torch.Tensor,
        W_O: torch.Tensor,
        a: torch.Tensor,
    ):
        super().__init__()
        self.W_Q = nn.Parameter(W_Q.clone())  # (mb, d)
        self.W_K = nn.Parameter(W_K.clone())  # (mb, d)
        self.W_V = nn.Parameter(W_V.clone())  # (ma, d)
        self.W_O = nn.Parameter(W_O.clone())  # (m, ma)
        self.register_buffer("a", a.clone())  # (m,), fixed

    def forward(self, P: torch.Tensor) -> torch.Tensor:
        """P: (n, l + 1, d) -> F: (n,)."""
        C, pq = P[:, :-1, :], P[:, -1, :]
        keys = C @ self.W_K.T  # (n, l, mb)
        query = pq @ self.W_Q.T  # (n, mb)
        A = torch.softmax((keys * query[:, None, :]).sum(-1), dim=-1)  # (n, l)
        values = C @ self.W_V.T  # (n, l, ma)
        attn_out = (values * A[..., None]).sum(1)  # (n, ma)
        return torch.relu(attn_out @ self.W_O.T) @ self.a  # (n,)


def hinge_loss(F: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Mean hinge loss max(0, 1 - z F)."""
    return torch.relu(1.0 - z * F).mean()
