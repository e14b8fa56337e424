"""A multi-layer, multi-head GPT-2-style Transformer on the paper's prompts, as an ensemble.

The paper (docs/paper.md §1.7) re-runs its experiments on a 3-layer, 2-head GPT-2-style
model; this is that model, sized by parameters, with every weight carrying a
leading ensemble dimension E (members never interact: batched matmuls / einsum
over E, so member e trained in an ensemble equals member e trained alone).

Prompt format: P (E, n, l + 1, d), d = dX + dY, the last column is the query
(its label slot is 0). Output: one scalar F per prompt, read at the query column.

    h_0 = W_in p_t  (+ e_query on the query column) (+ wpe[t])  read-in (positions optional)
    for each block b = 1..L (pre-norm, GPT-2):
        h = h + W_proj MHA(LN_1(h)) + b_proj                  H heads of width w / H
        h = h + W_fc2 GELU(W_fc LN_2(h) + b_fc) + b_fc2       MLP of mlp_width neurons
    F = w_out . LN_f(h_query) + b_out

Choices (documented defaults, [choose] in docs/paper.md's sense; the GPT-2 readings are the
alternatives, docs/calibration.md "The deep model against a GPT-2 block"):
- Positions (`positions`): by default none: a prompt is an unordered set of
  context examples plus the query; a learned vector `e_query` marks the query
  column (its label slot being 0 marks it too). So the model accepts any
  context length l, and evaluation at l_ts != l_tr is well defined. With
  `positions = P > 0` (GPT-2's learned absolute embeddings) a learned vector
  wpe[t] is added to column t's read-in, for prompts of up to P columns.
- Masking (`mask`): by default "set": every position attends to the l context
  columns and to itself (the contexts are unordered, so they see one another
  in both directions). "causal" is GPT-2's mask: column t sees columns 0..t
  (the query, last, sees everything). Under both, no context attends to the
  query, so the contexts' representations never depend on the query, as in the
  paper's one-layer model. The query row spreads its attention over l + 1
  keys (the l contexts and itself); the probe "attention mass on same-pattern
  contexts" sums the query row's weights over the same-pattern contexts
  without renormalising (the weight on itself counts as not on them).
- The last block only needs the query row's output (F reads nothing else), so
  it computes attention and the MLP for the query row only; the function is
  the same as the full computation.
- Pruning: `neuron_mask` (E, mlp_width) of 0/1 zeroes hidden units (after GELU)
  of the last block's MLP; `prune_weights` gives their incoming weight rows
  W_fc (E, mlp_width, width), the analogue of the paper model's W_O rows, so
  magnitude pruning ranks neurons by those row norms.
- Init (GPT-2): weights N(0, init_std^2) (wpe too, drawn last), residual projections (W_proj, W_fc2)
  N(0, init_std^2 / (2 L)), biases 0, LayerNorm gains 1; the read-in W_in is
  N(0, 1/d) and the read-out w_out N(0, 1/width) so F starts O(1) in scale.
  Drawn in float64 from the member's own generator in a fixed order, then cast.
- Gradients: autograd (`hinge_loss_and_grads`), one backward of the sum of the
  members' mean hinge losses = every member's gradient of its own loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as Fn
from torch import nn

PARAM_NAMES = (
    "W_in",
    "e_query",
    "ln1_g",
    "ln1_b",
    "W_qkv",
    "b_qkv",
    "W_proj",
    "b_proj",
    "ln2_g",
    "ln2_b",
    "W_fc",
    "b_fc",
    "W_fc2",
    "b_fc2",
    "lnf_g",
    "lnf_b",
    "w_out",
    "b_out",
)
OPTIONAL_PARAMS = ("wpe",)  # present only under learned positions
MASKS = ("set", "causal")
LN_EPS = 1e-5


def _ln(x: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """LayerNorm over the last dim with per-member gain/bias g, b (E, w); x (E, ..., w)."""
    shape = (g.shape[0],) + (1,) * (x.dim() - 2) + (g.shape[-1],)
    return torch.addcmul(b.view(shape), Fn.layer_norm(x, x.shape[-1:], eps=LN_EPS), g.view(shape))


def _lin(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Per-member linear map: x (E, ..., i) @ W (E, o, i)^T + b (E, o)."""
    E = x.shape[0]
    y = (x.reshape(E, -1, x.shape[-1]) @ W.transpose(1, 2)).reshape(*x.shape[:-1], W.shape[1])
    if b is not None:
        y = y + b.view((E,) + (1,) * (x.dim() - 2) + (W.shape[1],))
    return y


class EnsembleDeepTransformer(nn.Module):
    def __init__(self, weights: dict[str, torch.Tensor], heads: int, mask: str = "set"):
        super().__init__()
        if mask not in MASKS:
            raise ValueError(f"mask must be one of {', '.join(MASKS)}, got {mask!r}")
        self.names = PARAM_NAMES + tuple(k for k in OPTIONAL_PARAMS if k in weights)
        for k in self.names:
            setattr(self, k, nn.Parameter(weights[k]))
        self.heads = heads
        self.mask = mask

    # ------------------------------------------------------------------ construction
    @staticmethod
    def initial_weights(
        d: int,
        depth: int,
        heads: int,
        width: int,
        mlp_width: int,
        init_std: float,
        g: torch.Generator,
        dtype: torch.dtype = torch.float32,
        positions: int = 0,
    ) -> dict[str, torch.Tensor]:
        """One member's initial weights (see the module docstring), all from generator g."""
        if width % heads:
            raise ValueError(f"width must be a multiple of heads, got width={width}, heads={heads}")
        dev = g.device
        L, w, h = depth, width, mlp_width

        def normal(*shape: int, std: float) -> torch.Tensor:
            return (torch.randn(*shape, generator=g, dtype=torch.float64, device=dev) * std).to(
                dtype
            )

        zeros = lambda *s: torch.zeros(*s, dtype=dtype, device=dev)  # noqa: E731
        ones = lambda *s: torch.ones(*s, dtype=dtype, device=dev)  # noqa: E731
        res_std = init_std / math.sqrt(2 * L)
        weights = {
            "W_in": normal(w, d, std=1.0 / math.sqrt(d)),
            "e_query": normal(w, std=init_std),
            "ln1_g": ones(L, w),
            "ln1_b": zeros(L, w),
            "W_qkv": normal(L, 3 * w, w, std=init_std),
            "b_qkv": zeros(L, 3 * w),
            "W_proj": normal(L, w, w, std=res_std),
            "b_proj": zeros(L, w),
            "ln2_g": ones(L, w),
            "ln2_b": zeros(L, w),
            "W_fc": normal(L, h, w, std=init_std),
            "b_fc": zeros(L, h),
            "W_fc2": normal(L, w, h, std=res_std),
            "b_fc2": zeros(L, w),
            "lnf_g": ones(w),
            "lnf_b": zeros(w),
            "w_out": normal(w, std=1.0 / math.sqrt(w)),
            "b_out": zeros(()),
        }
        if positions:  # drawn after the rest, so the other weights do not depend on it
            weights["wpe"] = normal(positions, w, std=init_std)
        return weights

    @classmethod
    def from_members(
        cls, members: list[dict[str, torch.Tensor]], heads: int, mask: str = "set"
    ) -> EnsembleDeepTransformer:
        """Stack per-member weight dicts into one ensemble."""
        return cls({k: torch.stack([m[k] for m in members]) for k in members[0]}, heads, mask)

    def member(self, e: int) -> dict[str, torch.Tensor]:
        """Member e's weights (detached copies)."""
        return {k: getattr(self, k)[e].detach().clone() for k in self.names}

    # ------------------------------------------------------------------ sizes
    @property
    def size(self) -> int:
        return self.W_in.shape[0]

    @property
    def depth(self) -> int:
        return self.W_qkv.shape[1]

    @property
    def width(self) -> int:
        return self.W_in.shape[1]

    @property
    def mlp_width(self) -> int:
        return self.W_fc.shape[2]

    @property
    def prune_weights(self) -> torch.Tensor:
        """(E, mlp_width, width): incoming weight rows of the last block's MLP neurons (what pruning
        ranks)."""
        return self.W_fc[:, -1]

    # ------------------------------------------------------------------ forward
    def _attend(
        self, hq: torch.Tensor | None, hkv: torch.Tensor, i: int, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Multi-head attention of block i over keys/values of hkv (E, n, T, w), both
        layer-normed; queries from every row of hkv (hq None) or from hq (E, n, Tq, w).
        Returns (output (E, n, Tq, w), A (E, n, H, Tq, T))."""
        E, n, T, w = hkv.shape
        H = self.heads
        dh = w // H
        if hq is None:  # one matmul for q, k and v
            qkv = (
                _lin(hkv, self.W_qkv[:, i], self.b_qkv[:, i])
                .view(E, n, T, 3, H, dh)
                .permute(3, 0, 1, 4, 2, 5)
            )
            q, k, v = qkv[0], qkv[1], qkv[2]  # (E, n, H, T, dh)
        else:
            kv = (
                _lin(hkv, self.W_qkv[:, i, w:], self.b_qkv[:, i, w:])
                .view(E, n, T, 2, H, dh)
                .permute(3, 0, 1, 4, 2, 5)
            )
            k, v = kv[0], kv[1]
            q = (
                _lin(hq, self.W_qkv[:, i, :w], self.b_qkv[:, i, :w])
                .view(E, n, -1, H, dh)
                .transpose(2, 3)
            )
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(dh))  # (E, n, H, Tq, T)
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        A = torch.softmax(s, dim=-1)
        o = (A @ v).transpose(2, 3).reshape(E, n, -1, w)
        return _lin(o, self.W_proj[:, i], self.b_proj[:, i]), A

    def _run(
        self, P: torch.Tensor, neuron_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """F (E, n) and, per block, the query row's attention (E, n, H, l + 1)."""
        E, n, T, _ = P.shape
        l = T - 1
        h = _lin(P, self.W_in)  # (E, n, T, w)
        h = torch.cat([h[:, :, :l], h[:, :, l:] + self.e_query[:, None, None, :]], dim=2)
        if "wpe" in self.names:
            if T > self.wpe.shape[1]:
                raise ValueError(f"a prompt of {T} columns, positions for {self.wpe.shape[1]}")
            h = h + self.wpe[:, None, :T]  # (E, 1, T, w)
        pos = torch.arange(T, device=P.device)
        if self.mask == "causal":  # (T, T): row t sees columns 0..t
            mask = pos[None, :] <= pos[:, None]
        else:  # row t sees the contexts and itself
            mask = (pos[None, :] < l) | (pos[None, :] == pos[:, None])
        attn: list[torch.Tensor] = []
        L = self.depth
        for i in range(L):
            last = i == L - 1
            a = _ln(h, self.ln1_g[:, i], self.ln1_b[:, i])
            if last:  # only the query row is read out: attend and run the MLP for it alone
                o, A = self._attend(a[:, :, l:], a, i, None)
                h = h[:, :, l:] + o
            else:
                o, A = self._attend(None, a, i, mask)
                h = h + o
            attn.append(A[:, :, :, -1, :])  # the query row (the last row in both cases)
            f = Fn.gelu(
                _lin(_ln(h, self.ln2_g[:, i], self.ln2_b[:, i]), self.W_fc[:, i], self.b_fc[:, i])
            )
            if last and neuron_mask is not None:
                f = f * neuron_mask.view(E, 1, 1, -1).to(f.dtype)
            h = h + _lin(f, self.W_fc2[:, i], self.b_fc2[:, i])
        out = _ln(h[:, :, -1], self.lnf_g, self.lnf_b)  # (E, n, w)
        F = (out * self.w_out[:, None, :]).sum(-1) + self.b_out[:, None]
        return F, attn

    def forward(
        self,
        P: torch.Tensor,
        neuron_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """F (E, n); with return_attention also A (E, n, l): the last block's query
        attention over the l context columns, averaged over heads (sums to 1 minus
        the weight the query puts on itself)."""
        F, attn = self._run(P, neuron_mask)
        if not return_attention:
            return F
        return F, attn[-1][..., :-1].mean(2)

    def forward_layers(
        self, P: torch.Tensor, neuron_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(F (E, n), A (E, n, l) as in forward, query attention of every block and head
        (E, L, H, n, l + 1): over the l contexts and, last, the query itself)."""
        F, attn = self._run(P, neuron_mask)
        return F, attn[-1][..., :-1].mean(2), torch.stack(attn, 1).permute(0, 1, 3, 2, 4)

    def query_attention(self, P: torch.Tensor) -> torch.Tensor:
        """(E, L, H, n, l + 1): the query row's attention in every block and head (for probes)."""
        return self.forward_layers(P)[2]

    # ------------------------------------------------------------------ training
    def hinge_loss_and_grads(
        self, P: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Per-member mean hinge loss max(0, 1 - z F) (E,) and its gradients by autograd,
        keyed by parameter name (every parameter of the model)."""
        names = [k for k in self.names if getattr(self, k).requires_grad]
        with torch.enable_grad():
            F = self(P)
            loss = torch.relu(1.0 - z * F).mean(-1)
            grads = torch.autograd.grad(loss.sum(), [getattr(self, k) for k in names])
        return loss.detach(), dict(zip(names, grads))
