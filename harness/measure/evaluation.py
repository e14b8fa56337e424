"""Evaluation: error counts (not only rates), hinge loss and attention mass, per ensemble member.

The theorems bound the expected hinge loss E[max(0, 1 - z F(P))] (docs/paper.md §1.5); the figures
plot the 0-1 error. Both are measured on the same prompts: `hinge_loss` is the mean over the n
prompts, `hinge_sd` its standard deviation over prompts (ddof = 1), so a bound on the mean can be
judged from the stored numbers. A non-finite output gives a NaN hinge loss (and counts as an
error)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.measure.architectures import architecture_of
from harness.world.prompts import PromptBatch
from models import EnsembleDeepTransformer, EnsembleICLTransformer


@dataclass
class EvalResult:
    errors: torch.Tensor  # (E,) number of prompts with z F <= 0 (non-finite F counts as an error)
    n: int  # prompts per member
    attn_same: torch.Tensor  # (E,) mean attention mass on contexts sharing the query's pattern
    # deep model only: (E, L, H) mean query-row attention mass on same-pattern contexts per block
    # and head
    attn_layers: torch.Tensor | None = None
    # (E,) mean hinge loss max(0, 1 - z F) over the n prompts
    hinge_loss: torch.Tensor | None = None
    hinge_sd: torch.Tensor | None = None  # (E,) its standard deviation over the prompts (ddof = 1)

    @property
    def error_rate(self) -> torch.Tensor:
        return self.errors.double() / self.n


@torch.no_grad()
def evaluate(
    model: EnsembleICLTransformer | EnsembleDeepTransformer,
    batch: PromptBatch,
    neuron_mask: torch.Tensor | None = None,
    chunk: int = 2048,
) -> EvalResult:
    """Errors and same-pattern attention mass over a stacked batch (E, n, ...).

    A layered architecture (the deep model) also gives the mass per block
    and head (`attn_layers`), from the query row's attention over the l contexts."""
    n = batch.z.shape[-1]
    errors = torch.zeros(model.size, dtype=torch.long, device=batch.P.device)
    attn = torch.zeros(model.size, dtype=torch.float64, device=batch.P.device)
    layered = architecture_of(model).layered
    attn_layers = None
    h_sum = torch.zeros(model.size, dtype=torch.float64, device=batch.P.device)
    h_sq = torch.zeros_like(h_sum)
    for s in range(0, n, chunk):
        part = batch.slice(s, min(n, s + chunk))
        if layered:
            # AL (E, L, H, n, l + 1)
            F, A, AL = model.forward_layers(part.P, neuron_mask=neuron_mask)
            same = part.same_as_query[:, None, None]  # (E, 1, 1, n, l)
            m = (AL[..., :-1] * same).sum(-1).double().nan_to_num(0.0).sum(-1)  # (E, L, H)
            attn_layers = m if attn_layers is None else attn_layers + m
        else:
            F, A = model(part.P, neuron_mask=neuron_mask, return_attention=True)
        wrong = ~(part.z * F > 0)  # NaN compares False, so it counts as wrong
        errors += wrong.sum(-1)
        h = (1.0 - part.z * F).clamp_min(0.0).double()  # NaN stays NaN
        h_sum += h.sum(-1)
        h_sq += (h * h).sum(-1)
        attn += (A * part.same_as_query).sum(-1).double().nan_to_num(0.0).sum(-1)
    mean = h_sum / n
    var = ((h_sq - n * mean * mean) / max(n - 1, 1)).clamp_min(0.0)
    return EvalResult(
        errors=errors.cpu(),
        n=n,
        attn_same=(attn / n).cpu(),
        attn_layers=(attn_layers / n).cpu() if attn_layers is not None else None,
        hinge_loss=mean.cpu(),
        hinge_sd=var.sqrt().cpu(),
    )
