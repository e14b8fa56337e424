"""Model architectures as registered objects: how to build an ensemble and what can be measured on
it.

The harness asks an `Architecture` instead of testing a model's type or attributes: training builds
members through `init`, the trainer uses the hand-written factored gradients when `factored` is set,
evaluation reads per-block attention when `layered`, pruning and the neuron probes read
`neuron_rows`, and the W_O W_V alignment probes exist only where `value_rows` is set. Registering
another architecture (a test can) is one `ARCHITECTURES.add(Architecture(name, ...))`; its
`ModelConfig.arch` name is then valid in claim files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from harness.core.registry import Registry
from models import EnsembleDeepTransformer, EnsembleICLTransformer


@dataclass(frozen=True)
class Architecture:
    name: str
    text: str  # one line for reports and --help
    model_class: type  # the ensemble network (models/) it builds
    # (runs, generators, dtype) -> ensemble model on the generators' device
    init: Callable[..., torch.nn.Module]
    # (E, m, fan_in) rows of the prunable neurons
    neuron_rows: Callable[[torch.nn.Module], torch.Tensor]
    factored: bool  # trains on factored prompts with hand-written gradients
    layered: bool  # evaluation gives attention per block and head
    value_rows: bool  # has W_O W_V rows for the label / feature alignment probes


ARCHITECTURES: Registry[Architecture] = Registry("model architecture")


def _init_paper(runs, gens, dtype):
    members = []
    for r, g in zip(runs, gens):
        d = r.data.d
        ma, mb = r.model.dims(d)
        members.append(
            EnsembleICLTransformer.initial_weights(
                d, r.model.m, ma, mb, r.model.delta, r.model.wo_std, r.model.a_scale, g, dtype
            )
        )
    return EnsembleICLTransformer.from_members(members, train_a=runs[0].model.train_a)


def _init_deep(runs, gens, dtype):
    members = []
    for r, g in zip(runs, gens):
        mc = r.model
        members.append(
            EnsembleDeepTransformer.initial_weights(
                r.data.d,
                mc.depth,
                mc.heads,
                mc.width,
                mc.deep_mlp_width,
                mc.init_std,
                g,
                dtype,
                positions=mc.positions,
            )
        )
    mc = runs[0].model
    return EnsembleDeepTransformer.from_members(members, heads=mc.heads, mask=mc.mask)


ARCHITECTURES.add(
    Architecture(
        "paper",
        "the paper's one-layer, one-head Transformer with a ReLU MLP (docs/paper.md §1.5)",
        EnsembleICLTransformer,
        _init_paper,
        neuron_rows=lambda model: model.W_O,
        factored=True,
        layered=False,
        value_rows=True,
    ),
)
ARCHITECTURES.add(
    Architecture(
        "deep",
        "a multi-layer, multi-head GPT-2-style Transformer on the same prompts "
        "(docs/paper.md §1.7)",
        EnsembleDeepTransformer,
        _init_deep,
        neuron_rows=lambda model: model.prune_weights,
        factored=False,
        layered=True,
        value_rows=False,
    ),
)


def architecture_of(model: torch.nn.Module) -> Architecture:
    """The registered architecture whose network class built `model` (the one place that tests a
    model's type)."""
    for name in ARCHITECTURES:
        arch = ARCHITECTURES.get(name)
        if type(model) is arch.model_class:
            return arch
    raise ValueError(f"no registered architecture builds {type(model).__name__}")
