"""Evaluation: error counts (not only rates) and attention mass, per ensemble member."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models import EnsembleDeepTransformer, EnsembleICLTransformer

from harness.measure.architectures import architecture_of
from harness.world.prompts import PromptBatch


@dataclass
class EvalResult:
    errors: torch.Tensor  # (E,) number of prompts with z F <= 0 (non-finite F counts as an error)
    n: int  # prompts per member
    attn_same: torch.Tensor  # (E,) mean attention mass on contexts sharing the query's pattern
    # deep model only: (E, L, H) mean query-row attention mass on same-pattern contexts per block and head
    attn_layers: torch.Tensor | None = None

    @property
    def error_rate(self) -> torch.Tensor:
        return self.errors.double() / self.n


@torch.no_grad()
def evaluate(
    model: EnsembleICLTransformer | EnsembleDeepTransformer, batch: PromptBatch, neuron_mask: torch.Tensor | None = None, chunk: int = 2048
) -> EvalResult:
    """Errors and same-pattern attention mass over a stacked batch (E, n, ...).

    A layered architecture (the deep model) also gives the mass per block
    and head (`attn_layers`), from the query row's attention over the l contexts."""
    n = batch.z.shape[-1]
    errors = torch.zeros(model.size, dtype=torch.long, device=batch.P.device)
    attn = torch.zeros(model.size, dtype=torch.float64, device=batch.P.device)
    layered = architecture_of(model).layered
    attn_layers = None
    for s in range(0, n, chunk):
        part = batch.slice(s, min(n, s + chunk))
        if layered:
            F, A, AL = model.forward_layers(part.P, neuron_mask=neuron_mask)  # AL (E, L, H, n, l + 1)
            same = part.same_as_query[:, None, None]  # (E, 1, 1, n, l)
            m = (AL[..., :-1] * same).sum(-1).double().nan_to_num(0.0).sum(-1)  # (E, L, H)
            attn_layers = m if attn_layers is None else attn_layers + m
        else:
            F, A = model(part.P, neuron_mask=neuron_mask, return_attention=True)
        wrong = ~(part.z * F > 0)  # NaN compares False, so it counts as wrong
        errors += wrong.sum(-1)
        attn += (A * part.same_as_query).sum(-1).double().nan_to_num(0.0).sum(-1)
    return EvalResult(errors=errors.cpu(), n=n, attn_same=(attn / n).cpu(),
                      attn_layers=(attn_layers / n).cpu() if attn_layers is not None else None)
