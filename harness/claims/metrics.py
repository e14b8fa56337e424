"""The metrics claims read from stored records, and the checks of a claim's metric parameters.

`metric_rows` derives a claim's metric from one stored Record (written by
`harness.run.execution` from `harness.measure.ensemble` and the training
history), so changing a claim's eps re-judges without retraining.
"""

from __future__ import annotations

from typing import Any

from harness.claims.claim import Claim, point_config
from harness.claims.record import Record
from harness.measure.architectures import ARCHITECTURES


def _layer_mass(layers: list, layer: int, head: int) -> float:
    """Same-pattern mass from a [L][H] table: head 0 = mean over heads, else that head (1-based);
    layer 0 = the smallest over blocks (the weakest layer), else that block (1-based)."""
    per_layer = [(sum(hs) / len(hs)) if head == 0 else hs[head - 1] for hs in layers]
    if not per_layer:
        return float("nan")
    return float(min(per_layer)) if layer == 0 else float(per_layer[layer - 1])





def check_metric(c: "Claim") -> tuple[str, str] | None:
    """A (key, problem) pair if the claim's metric parameters do not fit its metric."""
    m = c.metric
    name = m["name"]
    if name in ("steps_to_eps", "samples_to_eps") and "eps" not in m:
        return "metric.eps", f"missing (metric '{name}' needs the error threshold eps)"
    if name == "attn_mass_layer":
        mc = c.base_run["model"]
        arch = mc.get("arch", "paper")
        if arch not in ARCHITECTURES or not ARCHITECTURES.get(arch).layered or "model.arch" in c.axis_names:
            return "metric.name", "'attn_mass_layer' needs a layered architecture, e.g. setting.model.arch = 'deep' (and no model.arch grid axis)"
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


def metric_rows(claim: "Claim", record: Record) -> list[dict[str, Any]]:
    """Rows {point, value, censored, k, n} of the claim's metric for one stored unit.

    `point` merges the unit's train point and the eval point. Train-level metrics
    (steps, probes) give one row per unit with the eval axes left out.
    """
    m = claim.metric
    name = m["name"]
    domain = m.get("domain", "id")
    tp = record.train_point
    h = record.history
    if name in ("steps_to_eps", "samples_to_eps"):
        s = h.first_step_at_or_below(m["eps"], "err_ood" if domain == "ood" else "err_id")
        cap = record.config.train.steps
        value = cap if s is None else max(s, 1)
        if name == "samples_to_eps":
            value *= record.config.train.batch
        return [{"point": dict(tp), "value": float(value), "censored": s is None}]
    if name in ("label_alignment", "feature_alignment", "large_neuron_fraction", "norm_ratio"):
        return [{"point": dict(tp), "value": float(getattr(record.probes, name)), "censored": False}]
    if name == "attn_gain":
        series = h.attn_ood if domain == "ood" else h.attn_id
        return [{"point": dict(tp), "value": series[-1] - series[0], "censored": False}]
    rows = []
    for meas in record.measurements:
        point = {**tp, **meas.point}
        if not _matches(point, claim.select):
            continue
        if name == "error_rate":
            k = meas.err_ood if domain == "ood" else meas.err_id
            rows.append({"point": point, "value": k / meas.n, "k": k, "n": meas.n, "censored": False})
        elif name == "attn_mass_layer":
            if m.get("at", "final") == "initial":
                layers = (h.attn_ood_layers if domain == "ood" else h.attn_id_layers)[0]
            else:
                layers = meas.attn_ood_layers if domain == "ood" else meas.attn_id_layers
            rows.append({"point": point, "value": _layer_mass(layers, m.get("layer", 0), m.get("head", 0)), "censored": False})
        elif name == "attn_mass":
            if m.get("at", "final") == "initial":
                v = (h.attn_ood if domain == "ood" else h.attn_id)[0]
            else:
                v = meas.attn_ood if domain == "ood" else meas.attn_id
            rows.append({"point": point, "value": float(v), "censored": False})
    return rows
