"""Metrics, one registered object each: how a claim's number is read from a stored record, and its
checks.

A `Metric` turns one stored `Record` into `Row`s (one per eval point, or one per unit for
train-level metrics such as steps-to-eps or the neuron probes). The records hold raw measurements
(`harness.measure.ensemble`, the training history), so changing a claim's eps re-judges without
retraining. Registering a new metric is one `METRICS.add(Metric(name, ...))`, from the package
or from a test or plugin."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.claims.claim import Claim, point_config
from harness.claims.record import Measurement, Record
from harness.core.registry import Registry
from harness.measure.architectures import ARCHITECTURES

Problem = tuple[str, str] | None  # (key, what is wrong) or None


@dataclass
class Row:
    """One value of a claim's metric: at a grid point (train point merged with the eval point) of
    one replicate. `k` / `n` are error counts where the metric is a rate of errors; `censored` marks
    a value cut at a cap."""

    point: dict[str, Any]
    value: float
    censored: bool = False
    replicate: int = 0
    k: int | None = None
    n: int | None = None
    # standard deviation over the n prompts where the value is a mean over them (hinge loss)
    sd: float | None = None


def _ok(c: Claim) -> Problem:
    return None


@dataclass(frozen=True)
class Metric:
    name: str
    text: str  # one line: what is measured
    # a record's rows (select applied by metric_rows for per-point metrics)
    rows: Callable[[Claim, Record], list[Row]]
    per_point: bool = True  # one row per eval point (else one per unit, eval axes left out)
    # [metric] keys that only this metric reads (layer, head)
    reads: dict[str, type] = field(default_factory=dict)
    check: Callable[[Claim], Problem] = _ok  # the metric's own parameter checks
    needs_eps: bool = False
    # values lie in [0, 1] (a rate or a mass): intervals drawn for it are clipped there
    proportion: bool = False
    # whether it reads the checkpoint curves (a model measured under new test prompts then needs
    # its curves recorded under them: harness.run.model_store)
    curve: Callable[[Claim], bool] = lambda c: False


METRICS: Registry[Metric] = Registry("metric")


def _domain(c: Claim) -> str:
    return c.metric.get("domain", "id")


def _layer_mass(layers: list, layer: int, head: int) -> float:
    """Same-pattern mass from a [L][H] table: head 0 = mean over heads, else that head (1-based);
    layer 0 = the smallest over blocks (the weakest layer), else that block (1-based)."""
    per_layer = [(sum(hs) / len(hs)) if head == 0 else hs[head - 1] for hs in layers]
    if not per_layer:
        return float("nan")
    return float(min(per_layer)) if layer == 0 else float(per_layer[layer - 1])


def _points(c: Claim, rec: Record) -> list[tuple[dict[str, Any], Measurement]]:
    """(grid point, measurement) of every eval point of the record."""
    return [({**rec.train_point, **meas.point}, meas) for meas in rec.measurements]


def _steps_to_eps(samples: bool) -> Callable[[Claim, Record], list[Row]]:
    def rows(c: Claim, rec: Record) -> list[Row]:
        on = "hinge" if c.metric.get("threshold_on", "error_rate") == "hinge_loss" else "err"
        s = rec.history.first_step_at_or_below(c.metric["eps"], f"{on}_{_domain(c)}")
        value = rec.config.train.steps if s is None else max(s, 1)
        if samples:
            value *= rec.config.train.batch
        return [Row(dict(rec.train_point), float(value), s is None)]

    return rows


def _probe(name: str) -> Callable[[Claim, Record], list[Row]]:
    return lambda c, rec: [Row(dict(rec.train_point), float(getattr(rec.probes, name)))]


def _attn_gain(c: Claim, rec: Record) -> list[Row]:
    series = rec.history.attn_ood if _domain(c) == "ood" else rec.history.attn_id
    return [Row(dict(rec.train_point), series[-1] - series[0])]


def _error_rate(c: Claim, rec: Record) -> list[Row]:
    out = []
    for point, meas in _points(c, rec):
        k = meas.err_ood if _domain(c) == "ood" else meas.err_id
        out.append(Row(point, k / meas.n, k=k, n=meas.n))
    return out


def _hinge_loss(c: Claim, rec: Record) -> list[Row]:
    ood = _domain(c) == "ood"
    out = []
    for point, meas in _points(c, rec):
        h, sd = (
            (meas.hinge_loss_ood, meas.hinge_sd_ood)
            if ood
            else (meas.hinge_loss_id, meas.hinge_sd_id)
        )
        out.append(
            Row(
                point,
                math.nan if h is None else float(h),
                n=meas.n,
                sd=math.nan if sd is None else float(sd),
            )
        )
    return out


def _check_hinge(c: Claim) -> Problem:
    if any(a.startswith("baseline.") for a in c.axis_names):
        return (
            "metric.name",
            "'hinge_loss' needs the Transformer's output F: classical baselines (baseline.method "
            "axis) give labels only",
        )
    return None


QK_QUANTITIES = ("norm", "fraction", "norm_gain", "fraction_gain")


def _qk_projection(c: Claim, rec: Record) -> list[Row]:
    """W_Q p_query (side 'query') or W_K p_i (side 'key') off the training history: its norm or the
    fraction along the relevant pattern, at the initial or final checkpoint (metric.at), or its
    gain: final / initial norm, final - initial fraction."""
    side, quantity = c.metric.get("side", "query"), c.metric.get("quantity", "norm_gain")
    col = (0 if side == "query" else 2) + (1 if quantity.startswith("fraction") else 0)
    series = [float(entry[col]) for entry in rec.history.qk] or [math.nan]
    first, last = series[0], series[-1]
    if quantity == "norm_gain":
        value = last / first if first > 0 else math.nan
    elif quantity == "fraction_gain":
        value = last - first
    else:
        value = first if c.metric.get("at", "final") == "initial" else last
    return [Row(dict(rec.train_point), value)]


def _check_qk(c: Claim) -> Problem:
    m = c.metric
    arch = c.base_run["model"].get("arch", "paper")
    if arch in ARCHITECTURES and (
        ARCHITECTURES.get(arch).layered or not ARCHITECTURES.get(arch).value_rows
    ):
        return (
            "metric.name",
            "'qk_projection' reads the one-layer model's W_Q and W_K (setting.model.arch = "
            "'paper')",
        )
    if m.get("side", "query") not in ("query", "key"):
        return "metric.side", f"must be 'query' or 'key', got {m['side']!r}"
    if m.get("quantity", "norm_gain") not in QK_QUANTITIES:
        return (
            "metric.quantity",
            f"must be one of {', '.join(QK_QUANTITIES)}, got {m['quantity']!r}",
        )
    return None


def _attn_mass(c: Claim, rec: Record) -> list[Row]:
    ood = _domain(c) == "ood"
    initial = c.metric.get("at", "final") == "initial"
    first = (rec.history.attn_ood if ood else rec.history.attn_id)[0]
    return [
        Row(point, float(first if initial else (meas.attn_ood if ood else meas.attn_id)))
        for point, meas in _points(c, rec)
    ]


def _attn_mass_layer(c: Claim, rec: Record) -> list[Row]:
    ood = _domain(c) == "ood"
    m = c.metric
    out = []
    for point, meas in _points(c, rec):
        if m.get("at", "final") == "initial":
            layers = (rec.history.attn_ood_layers if ood else rec.history.attn_id_layers)[0]
        else:
            layers = meas.attn_ood_layers if ood else meas.attn_id_layers
        out.append(Row(point, _layer_mass(layers, m.get("layer", 0), m.get("head", 0))))
    return out


def _check_layered(c: Claim) -> Problem:
    m = c.metric
    arch = c.base_run["model"].get("arch", "paper")
    if (
        arch not in ARCHITECTURES
        or not ARCHITECTURES.get(arch).layered
        or "model.arch" in c.axis_names
    ):
        return (
            "metric.name",
            "'attn_mass_layer' needs a layered architecture, e.g. setting.model.arch = 'deep' (and "
            "no model.arch grid axis)",
        )
    base_model = point_config(c, {}).model
    depth, heads = base_model.depth, base_model.heads
    if not 0 <= m.get("layer", 0) <= depth:
        return (
            "metric.layer",
            f"must be in [0, depth = {depth}] (0: the weakest block), got {m['layer']}",
        )
    if not 0 <= m.get("head", 0) <= heads:
        return (
            "metric.head",
            f"must be in [0, heads = {heads}] (0: mean over heads), got {m['head']}",
        )
    return None


def _always(c: Claim) -> bool:
    return True


def _at_initial(c: Claim) -> bool:
    return c.metric.get("at", "final") == "initial"


def _check_checkpointed(c: Claim) -> Problem:
    if c.metric.get("threshold_on", "error_rate") not in ("error_rate", "hinge_loss"):
        return (
            "metric.threshold_on",
            "must be 'error_rate' or 'hinge_loss' (what must fall to eps), got "
            f"{c.metric['threshold_on']!r}",
        )
    if _domain(c) == "ood" and not c.base_run["train"].get("checkpoint_ood", True):
        return (
            "metric.domain",
            f"'ood' with metric '{c.metric['name']}' needs setting.train.checkpoint_ood = true (it "
            "is read off the checkpoints)",
        )
    return None


for _metric in (
    Metric(
        "steps_to_eps",
        "training steps until the error is <= eps (censored at the cap)",
        _steps_to_eps(False),
        per_point=False,
        check=_check_checkpointed,
        needs_eps=True,
        reads={"threshold_on": str},
        curve=_always,
    ),
    Metric(
        "samples_to_eps",
        "training prompts N = B T until the error is <= eps (censored at the cap)",
        _steps_to_eps(True),
        per_point=False,
        check=_check_checkpointed,
        needs_eps=True,
        reads={"threshold_on": str},
        curve=_always,
    ),
    Metric(
        "error_rate",
        "classification error on fresh test prompts (k errors of n)",
        _error_rate,
        proportion=True,
    ),
    Metric(
        "hinge_loss",
        "mean hinge loss max(0, 1 - z F) on fresh test prompts (mean and sd over n prompts)",
        _hinge_loss,
        check=_check_hinge,
    ),
    Metric(
        "qk_projection",
        "|W_Q p_query| or |W_K p_i| (metric.side) and its fraction along the relevant pattern "
        "(metric.quantity: norm, fraction, norm_gain, fraction_gain) off the checkpoints",
        _qk_projection,
        per_point=False,
        reads={"side": str, "quantity": str},
        check=_check_qk,
        curve=_always,
    ),
    Metric(
        "attn_mass",
        "attention mass of the query on same-pattern contexts",
        _attn_mass,
        proportion=True,
        curve=_at_initial,
    ),
    Metric(
        "attn_gain",
        "same-pattern attention mass, final minus initial checkpoint",
        _attn_gain,
        per_point=False,
        check=_check_checkpointed,
        curve=_always,
    ),
    Metric(
        "label_alignment",
        "cosine of large W_O W_V rows' label part with +-q",
        _probe("label_alignment"),
        per_point=False,
    ),
    Metric(
        "feature_alignment",
        "cosine of large rows' feature part with the mean IDR pattern",
        _probe("feature_alignment"),
        per_point=False,
    ),
    Metric(
        "large_neuron_fraction",
        "fraction of W_O rows in the large-norm cluster",
        _probe("large_neuron_fraction"),
        per_point=False,
        proportion=True,
    ),
    Metric(
        "norm_ratio",
        "mean row norm of the large cluster over the small one",
        _probe("norm_ratio"),
        per_point=False,
    ),
    Metric(
        "attn_mass_layer",
        "same-pattern mass of one block (metric.layer, 1-based; 0 = the weakest block)",
        _attn_mass_layer,
        reads={"layer": int, "head": int},
        check=_check_layered,
        proportion=True,
        curve=_at_initial,
    ),
):
    METRICS.add(_metric)


def metric_label(c: Claim) -> str:
    """What the analysed number is: the metric, or the smallest searched value that passes."""
    m = c.metric
    if "search" in m:
        return f"min {m['search']} with {m['name']} ({m.get('domain', 'id')}) <= {m['eps']:g}"
    if "eps" in m:
        what = "hinge loss" if m.get("threshold_on") == "hinge_loss" else "error"
        return f"{m['name']} ({what} <= {m['eps']:g}, {m.get('domain', 'id')})"
    return m["name"]


def check_metric(c: Claim) -> tuple[str, str] | None:
    """A (key, problem) pair if the claim's metric parameters do not fit its metric."""
    m = c.metric
    name = m["name"]
    metric = METRICS.get(name)
    if metric.needs_eps and "eps" not in m:
        return "metric.eps", f"missing (metric '{name}' needs the error threshold eps)"
    for key in {k for n in METRICS for k in METRICS.get(n).reads}:
        if key in m and key not in metric.reads:
            return (
                f"metric.{key}",
                "only metrics that read it "
                f"({', '.join(n for n in METRICS if key in METRICS.get(n).reads)}) take it, not "
                f"'{name}'",
            )
    problem = metric.check(c)
    if problem:
        return problem
    if any(a.startswith("baseline.") for a in c.axis_names) and m.get("domain", "id") != "id":
        return (
            "metric.domain",
            "classical baselines (grid axis baseline.method) are measured in-domain only: use "
            "domain = 'id'",
        )
    if "eps" in m and not 0 < m["eps"] < (math.inf if name == "hinge_loss" else 1):
        return (
            "metric.eps",
            f"must be in (0, 1), got {m['eps']}"
            if name != "hinge_loss"
            else f"must be > 0, got {m['eps']}",
        )
    if "domain" in m and m["domain"] not in ("id", "ood"):
        return "metric.domain", f"must be 'id' or 'ood', got {m['domain']!r}"
    if "at" in m and m["at"] not in ("initial", "final"):
        return "metric.at", f"must be 'initial' or 'final', got {m['at']!r}"
    if "search" in m and "eps" not in m:
        return "metric.eps", "missing (a search for the smallest passing value needs eps)"
    return None


def _matches(point: dict[str, Any], sel: dict[str, Any]) -> bool:
    return all(point.get(k) == v for k, v in sel.items())


def metric_rows(claim: Claim, record: Record) -> list[Row]:
    """The claim's metric for one stored unit: per-point metrics filtered by the claim's
    `select`."""
    metric = METRICS.get(claim.metric["name"])
    rows = metric.rows(claim, record)
    for r in rows:
        r.replicate = record.replicate
    return [r for r in rows if _matches(r.point, claim.select)] if metric.per_point else rows
