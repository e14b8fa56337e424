"""Measurements of trained models, and the metrics claims read from them.

`measure_ensemble` turns a trained ensemble into raw measurements per unit:
error counts and attention mass at every eval point (in-domain on unseen tasks
and OOD), neuron probes, and the training history. `metric_rows` then derives a
claim's metric from a stored record, so changing a claim's eps re-judges
without retraining.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch

from .baselines import BaselineCache
from .evaluation import evaluate
from .patterns import ood_patterns
from .probes import neuron_probe, two_cluster_split
from .prompts import PromptBatch
from .pruning import prune_mask
from .seeding import derive_seed, generator
from .training import History, TrainedEnsemble

if TYPE_CHECKING:
    from .claims import Claim
    from .grid import Unit

ID_PROMPT_KEYS = ("l_ts", "alpha_test", "context_sampling", "test_on")
OOD_PROMPT_KEYS = ID_PROMPT_KEYS + ("S1", "ood_coef_mode", "ood_coef_spread", "K_ood", "odi_outside", "M1_ood")


def _data_overrides(point: dict[str, Any]) -> dict[str, Any]:
    return {k.partition(".")[2]: v for k, v in point.items() if k.startswith("data.")}


def neuron_rows(model) -> torch.Tensor:
    """(E, m, fan_in) weight rows of the prunable neurons: W_O for the paper model, the last
    block's MLP input rows (`prune_weights`) for the deep one."""
    return model.prune_weights if hasattr(model, "prune_weights") else model.W_O


def _layer_mass(layers: list, layer: int, head: int) -> float:
    """Same-pattern mass from a [L][H] table: head 0 = mean over heads, else that head (1-based);
    layer 0 = the smallest over blocks (the weakest layer), else that block (1-based)."""
    per_layer = [(sum(hs) / len(hs)) if head == 0 else hs[head - 1] for hs in layers]
    if not per_layer:
        return float("nan")
    return float(min(per_layer)) if layer == 0 else float(per_layer[layer - 1])


@torch.no_grad()
def measure_ensemble(trained: TrainedEnsemble, units: list["Unit"], device: torch.device | str) -> list[dict[str, Any]]:
    """Raw measurements for every unit of the ensemble (same eval points for all)."""
    model, worlds = trained.model, trained.worlds
    n_test = int(units[0].eval["n_test"])
    dtype = neuron_rows(model).dtype
    baselines = BaselineCache()
    q_all = torch.stack([w.ind.q for w in worlds])
    per_unit: list[list[dict[str, Any]]] = [[] for _ in units]
    prompt_cache: dict[tuple, tuple[PromptBatch, PromptBatch]] = {}
    for point in units[0].eval_points:
        over = _data_overrides(point)
        cfgs = [dataclasses.replace(w.cfg, **over).validate() for w in worlds]
        id_key = tuple(getattr(cfgs[0], k) for k in ID_PROMPT_KEYS)
        ood_key = tuple(getattr(cfgs[0], k) for k in OOD_PROMPT_KEYS)
        key = (id_key, ood_key)
        if key not in prompt_cache:
            ids, oods = [], []
            for w, c in zip(worlds, cfgs):
                ww = dataclasses.replace(w, cfg=c, ood=ood_patterns(c, w.ind, w.seed))
                ids.append(ww.test_prompts(n_test, generator(derive_seed(w.seed, "test-id", id_key), device), dtype=dtype))
                oods.append(ww.test_prompts(n_test, generator(derive_seed(w.seed, "test-ood", ood_key), device), domain="ood", dtype=dtype))
            prompt_cache = {key: (PromptBatch.stack(ids), PromptBatch.stack(oods))}  # keep one entry: points come grouped
        bid, bood = prompt_cache[key]
        method = point.get("baseline.method", "transformer")
        if method != "transformer":
            # a classical baseline on the same in-domain prompts (harness.baselines); OOD not measured
            errs = baselines.errors(key, method, bid, q_all, worlds[0].cfg.dX)
            for e in range(len(units)):
                per_unit[e].append({"point": point, "n": n_test, "err_id": int(errs[e]), "err_ood": -1,
                                    "attn_id": float("nan"), "attn_ood": float("nan")})
            continue
        mask = None
        frac = float(point.get("prune.fraction", 0.0))
        mode = point.get("prune.mode", "small")
        if frac > 0:
            g = None
            if mode == "random":
                # one generator per member, from the member's own seed
                masks = [prune_mask(neuron_rows(model)[e : e + 1], frac, mode, generator(derive_seed(w.seed, "prune", frac), device)) for e, w in enumerate(worlds)]
                mask = torch.cat(masks)
            else:
                mask = prune_mask(neuron_rows(model), frac, mode, g)
        rid = evaluate(model, bid, mask, chunk=int(units[0].eval.get("chunk", 2048)))
        rood = evaluate(model, bood, mask, chunk=int(units[0].eval.get("chunk", 2048)))
        for e in range(len(units)):
            per_unit[e].append({
                "point": point, "n": n_test,
                "err_id": int(rid.errors[e]), "err_ood": int(rood.errors[e]),
                "attn_id": float(rid.attn_same[e]), "attn_ood": float(rood.attn_same[e]),
            })
            if rid.attn_layers is not None:  # deep model: per block and head
                per_unit[e][-1]["attn_id_layers"] = rid.attn_layers[e].tolist()
                per_unit[e][-1]["attn_ood_layers"] = rood.attn_layers[e].tolist()
    out = []
    if not hasattr(model, "W_V"):  # deep model: no W_O W_V rows to align; row-norm split of the pruned neurons
        for e, u in enumerate(units):
            norms = neuron_rows(model)[e].detach().double().norm(dim=1)
            finite = bool(torch.isfinite(norms).all())
            frac_large, ratio = two_cluster_split(norms) if finite else (float("nan"), float("nan"))
            out.append({"measurements": per_unit[e], "probes": {
                "label_alignment": float("nan"), "feature_alignment": float("nan"),
                "large_neuron_fraction": frac_large, "norm_ratio": ratio}})
        return out
    for e, (u, w) in enumerate(zip(units, worlds)):
        probe = neuron_probe(model, e, w.ind.relevant.mean(0), w.ind.q, w.cfg.dX)
        frac_large, ratio = two_cluster_split(probe.row_norms)
        large = probe.row_norms >= torch.quantile(probe.row_norms, 1.0 - frac_large) if frac_large > 0 else torch.ones_like(probe.row_norms, dtype=torch.bool)
        finite = bool(torch.isfinite(probe.row_norms).all())
        out.append({
            "measurements": per_unit[e],
            "probes": {
                "label_alignment": float(probe.label_cos[large].mean()) if finite else float("nan"),
                "feature_alignment": float(probe.feature_cos[large].mean()) if finite else float("nan"),
                "large_neuron_fraction": frac_large if finite else float("nan"),
                "norm_ratio": ratio if finite else float("nan"),
            },
        })
    return out


# --------------------------------------------------------------------------- metrics


def check_metric(c: "Claim") -> tuple[str, str] | None:
    """A (key, problem) pair if the claim's metric parameters do not fit its metric."""
    m = c.metric
    name = m["name"]
    if name in ("steps_to_eps", "samples_to_eps") and "eps" not in m:
        return "metric.eps", f"missing (metric '{name}' needs the error threshold eps)"
    if name == "attn_mass_layer":
        mc = c.base_run["model"]
        if mc.get("arch", "paper") != "deep" or "model.arch" in c.axis_names:
            return "metric.name", "'attn_mass_layer' needs setting.model.arch = 'deep' (and no model.arch grid axis)"
        from .claims import point_config

        base_model = point_config(c, {}).model
        depth, heads = base_model.depth, base_model.heads
        if not 0 <= m.get("layer", 0) <= depth:
            return "metric.layer", f"must be in [0, depth = {depth}] (0: the weakest block), got {m['layer']}"
        if not 0 <= m.get("head", 0) <= heads:
            return "metric.head", f"must be in [0, heads = {heads}] (0: mean over heads), got {m['head']}"
    elif "layer" in m or "head" in m:
        return "metric.layer" if "layer" in m else "metric.head", f"only metric 'attn_mass_layer' reads it, not '{name}'"
    if any(a.startswith("baseline.") for a in c.axis_names) and m.get("domain", "id") != "id":
        return "metric.domain", "classical baselines (grid axis baseline.method) are measured in-domain only: use domain = 'id'"
    if name in ("steps_to_eps", "samples_to_eps", "attn_gain") and m.get("domain") == "ood" and not c.base_run["train"].get("checkpoint_ood", True):
        return "metric.domain", f"'ood' with metric '{name}' needs setting.train.checkpoint_ood = true (it is read off the checkpoints)"
    if "eps" in m and not 0 < m["eps"] < 1:
        return "metric.eps", f"must be in (0, 1), got {m['eps']}"
    if "domain" in m and m["domain"] not in ("id", "ood"):
        return "metric.domain", f"must be 'id' or 'ood', got {m['domain']!r}"
    if "at" in m and m["at"] not in ("initial", "final"):
        return "metric.at", f"must be 'initial' or 'final', got {m['at']!r}"
    if "search" in m and "eps" not in m:
        return "metric.eps", "missing (a search for the smallest passing value needs eps)"
    if c.kind == "comparison":
        for side in ("a", "b"):
            if side not in m:
                return f"metric.{side}", "missing (a comparison names the eval points a and b it pairs)"
            for k in m[side]:
                if k not in c.axis_names:
                    return f"metric.{side}.{k}", f"not a grid axis of this claim (axes: {', '.join(c.axis_names)})"
    return None


def _matches(point: dict[str, Any], sel: dict[str, Any]) -> bool:
    return all(point.get(k) == v for k, v in sel.items())


def metric_rows(claim: "Claim", record: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows {point, value, censored, k, n} of the claim's metric for one stored unit.

    `point` merges the unit's train point and the eval point. Train-level metrics
    (steps, probes) give one row per unit with the eval axes left out.
    """
    m = claim.metric
    name = m["name"]
    domain = m.get("domain", "id")
    tp = record["train_point"]
    if name in ("steps_to_eps", "samples_to_eps"):
        h = History(**record["history"])
        s = h.first_step_at_or_below(m["eps"], "err_ood" if domain == "ood" else "err_id")
        cap = record["config"]["train"]["steps"]
        value = cap if s is None else max(s, 1)
        if name == "samples_to_eps":
            value *= record["config"]["train"]["batch"]
        return [{"point": dict(tp), "value": float(value), "censored": s is None}]
    if name in ("label_alignment", "feature_alignment", "large_neuron_fraction", "norm_ratio"):
        return [{"point": dict(tp), "value": float(record["probes"][name]), "censored": False}]
    if name == "attn_gain":
        h = record["history"]
        key = "attn_ood" if domain == "ood" else "attn_id"
        return [{"point": dict(tp), "value": h[key][-1] - h[key][0], "censored": False}]
    rows = []
    for meas in record["measurements"]:
        point = {**tp, **meas["point"]}
        if not _matches(point, claim.select):
            continue
        if name == "error_rate":
            k = meas["err_ood" if domain == "ood" else "err_id"]
            rows.append({"point": point, "value": k / meas["n"], "k": k, "n": meas["n"], "censored": False})
        elif name == "attn_mass_layer":
            key = "attn_ood_layers" if domain == "ood" else "attn_id_layers"
            layers = record["history"][key][0] if m.get("at", "final") == "initial" else meas.get(key, [])
            rows.append({"point": point, "value": _layer_mass(layers, m.get("layer", 0), m.get("head", 0)), "censored": False})
        elif name == "attn_mass":
            if m.get("at", "final") == "initial":
                v = record["history"]["attn_ood" if domain == "ood" else "attn_id"][0]
            else:
                v = meas["attn_ood" if domain == "ood" else "attn_id"]
            rows.append({"point": point, "value": float(v), "censored": False})
    return rows
