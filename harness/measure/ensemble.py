"""Raw measurements of a trained ensemble at a set of eval points.

`measure_ensemble` turns a trained ensemble into raw measurements per member:
error counts and attention mass at every eval point (in-domain on unseen tasks
and OOD, after optional pruning, or a classical baseline on the same prompts),
and neuron probes. Claims read their metrics from these stored measurements
(`harness.claims.metrics`), so changing a claim's eps re-judges without
retraining.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from harness.measure.architectures import architecture_of
from harness.measure.baselines import BaselineCache
from harness.measure.evaluation import evaluate
from harness.measure.measurement import Measurement, MemberMeasures, Probes
from harness.measure.probes import neuron_probe, two_cluster_split
from harness.measure.pruning import prune_mask
from harness.world.config import split_name
from harness.world.patterns import ood_patterns
from harness.world.prompts import PromptBatch
from harness.world.seeding import derive_seed, generator
from harness.world.test_fields import ID_PROMPT_KEYS, OOD_PROMPT_KEYS
from harness.world.world import World


def _data_overrides(point: dict[str, Any]) -> dict[str, Any]:
    return {key: v for name, v in point.items() for sec, key in [split_name(name)] if sec == "data"}


def neuron_rows(model) -> torch.Tensor:
    """(E, m, fan_in) weight rows of the prunable neurons: W_O for the paper model, the last
    block's MLP input rows (`prune_weights`) for the deep one."""
    return architecture_of(model).neuron_rows(model)


@torch.no_grad()
def measure_ensemble(
    model,
    worlds: list[World],
    eval_points: list[dict[str, Any]],
    eval: dict[str, Any],
    device: torch.device | str,
) -> list[MemberMeasures]:
    """Raw measurements for every member of the ensemble at each eval point (the same points for
    all)."""
    n_test = int(eval["n_test"])
    dtype = neuron_rows(model).dtype
    baselines = BaselineCache()
    q_all = torch.stack([w.ind.q for w in worlds])
    per_unit: list[list[Measurement]] = [[] for _ in worlds]
    prompt_cache: dict[tuple, tuple[PromptBatch, PromptBatch]] = {}
    for point in eval_points:
        over = _data_overrides(point)
        cfgs = [dataclasses.replace(w.cfg, **over).validate() for w in worlds]
        id_key = tuple(getattr(cfgs[0], k) for k in ID_PROMPT_KEYS)
        ood_key = tuple(getattr(cfgs[0], k) for k in OOD_PROMPT_KEYS)
        key = (id_key, ood_key)
        if key not in prompt_cache:
            ids, oods = [], []
            for w, c in zip(worlds, cfgs):
                ww = dataclasses.replace(w, cfg=c, ood=ood_patterns(c, w.ind, w.seed))
                ids.append(
                    ww.test_prompts(
                        n_test,
                        generator(derive_seed(w.seed, "test-id", id_key), device),
                        dtype=dtype,
                    )
                )
                oods.append(
                    ww.test_prompts(
                        n_test,
                        generator(derive_seed(w.seed, "test-ood", ood_key), device),
                        domain="ood",
                        dtype=dtype,
                    )
                )
            # keep one entry: points come grouped
            prompt_cache = {key: (PromptBatch.stack(ids), PromptBatch.stack(oods))}
        bid, bood = prompt_cache[key]
        method = point.get("baseline.method", "transformer")
        if method != "transformer":
            # a classical baseline on the same in-domain prompts (harness.measure.baselines); OOD
            # not measured
            errs = baselines.errors(key, method, bid, q_all, worlds[0].cfg.dX)
            for e in range(len(worlds)):
                per_unit[e].append(
                    Measurement(point, n_test, int(errs[e]), -1, float("nan"), float("nan"))
                )
            continue
        mask = None
        frac = float(point.get("prune.fraction", 0.0))
        mode = point.get("prune.mode", "small")
        if frac > 0:
            g = None
            if mode == "random":
                # one generator per member, from the member's own seed
                masks = [
                    prune_mask(
                        neuron_rows(model)[e : e + 1],
                        frac,
                        mode,
                        generator(derive_seed(w.seed, "prune", frac), device),
                    )
                    for e, w in enumerate(worlds)
                ]
                mask = torch.cat(masks)
            else:
                mask = prune_mask(neuron_rows(model), frac, mode, g)
        rid = evaluate(model, bid, mask, chunk=int(eval.get("chunk", 2048)))
        rood = evaluate(model, bood, mask, chunk=int(eval.get("chunk", 2048)))
        for e in range(len(worlds)):
            m = Measurement(
                point,
                n_test,
                int(rid.errors[e]),
                int(rood.errors[e]),
                float(rid.attn_same[e]),
                float(rood.attn_same[e]),
                hinge_loss_id=float(rid.hinge_loss[e]),
                hinge_loss_ood=float(rood.hinge_loss[e]),
                hinge_sd_id=float(rid.hinge_sd[e]),
                hinge_sd_ood=float(rood.hinge_sd[e]),
            )
            if rid.attn_layers is not None:  # deep model: per block and head
                m.attn_id_layers = rid.attn_layers[e].tolist()
                m.attn_ood_layers = rood.attn_layers[e].tolist()
            per_unit[e].append(m)
    out = []
    # e.g. the deep model: no W_O W_V rows to align; row-norm split of the pruned neurons
    if not architecture_of(model).value_rows:
        for e in range(len(worlds)):
            norms = neuron_rows(model)[e].detach().double().norm(dim=1)
            finite = bool(torch.isfinite(norms).all())
            frac_large, ratio = two_cluster_split(norms) if finite else (float("nan"), float("nan"))
            out.append(
                MemberMeasures(
                    per_unit[e],
                    Probes(float("nan"), float("nan"), frac_large, ratio, norms.tolist()),
                )
            )
        return out
    for e, w in enumerate(worlds):
        probe = neuron_probe(model, e, w.ind.relevant.mean(0), w.ind.q, w.cfg.dX)
        frac_large, ratio = two_cluster_split(probe.row_norms)
        large = (
            probe.row_norms >= torch.quantile(probe.row_norms, 1.0 - frac_large)
            if frac_large > 0
            else torch.ones_like(probe.row_norms, dtype=torch.bool)
        )
        finite = bool(torch.isfinite(probe.row_norms).all())
        out.append(
            MemberMeasures(
                per_unit[e],
                Probes(
                    label_alignment=float(probe.label_cos[large].mean())
                    if finite
                    else float("nan"),
                    feature_alignment=float(probe.feature_cos[large].mean())
                    if finite
                    else float("nan"),
                    large_neuron_fraction=frac_large if finite else float("nan"),
                    norm_ratio=ratio if finite else float("nan"),
                    row_norms=probe.row_norms.tolist(),
                ),
            )
        )
    return out
