"""Evaluation: error counts (not only rates) and attention mass, per ensemble member."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models import EnsembleICLTransformer

from .prompts import PromptBatch


@dataclass
class EvalResult:
    errors: torch.Tensor  # (E,) number of prompts with z F <= 0 (non-finite F counts as an error)
    n: int  # prompts per member
    attn_same: torch.Tensor  # (E,) mean attention mass on contexts sharing the query's pattern

    @property
    def error_rate(self) -> torch.Tensor:
        return self.errors.double() / self.n


@torch.no_grad()
def evaluate(
    model: EnsembleICLTransformer, batch: PromptBatch, neuron_mask: torch.Tensor | None = None, chunk: int = 2048
) -> EvalResult:
    """Errors and same-pattern attention mass over a stacked batch (E, n, ...)."""
    n = batch.z.shape[-1]
    errors = torch.zeros(model.size, dtype=torch.long, device=batch.P.device)
    attn = torch.zeros(model.size, dtype=torch.float64, device=batch.P.device)
    for s in range(0, n, chunk):
        part = batch.slice(s, min(n, s + chunk))
        F, A = model(part.P, neuron_mask=neuron_mask, return_attention=True)
        wrong = ~(part.z * F > 0)  # NaN compares False, so it counts as wrong
        errors += wrong.sum(-1)
        attn += (A * part.same_as_query).sum(-1).double().nan_to_num(0.0).sum(-1)
    return EvalResult(errors=errors.cpu(), n=n, attn_same=(attn / n).cpu())
