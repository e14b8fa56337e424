"""The control beside every claim: a version of the same experiment under which its prediction must
fail, so that a CONFIRMED says something the experiment could have contradicted.

A claim file may declare its own `[control]`; every other claim inherits the default of its kind
and metric (`default_control`), so no claim is without one:

- trends and rates (`flat`): no second experiment; the metric must move across the grid. A metric
  constant, or at its floor, at every grid point cannot show a trend or a rate.
- a comparison that says pruning costs little (`relation = "<="` on a `prune.mode` grid):
  `random-rows`, the same share of W_O's rows pruned at random, must cost more than the margin;
  otherwise the claim cannot tell which rows matter.
- every other claim (thresholds on probes, bounds, the other comparisons): `init`, the model at
  initialisation (0 training steps, seeded as the trained one), under which nothing was learned.

A control other than `flat` is a derived `Claim` (same id, so its seeds pair with the claim's):
`set` overrides the setting (a grid axis it names is replaced by the one value), `grid` replaces
grid axes, `metric` replaces metric keys. The initialisation and the pruning rules cost no training
of their own beyond the models they evaluate."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.claims.claim import Claim, axis_known, axis_parts
from harness.claims.errors import check_type, fail, suggest

CONTROL_KEYS = {
    "name": str,
    "why": str,
    "set": dict,
    "grid": dict,
    "metric": dict,
    "flat": bool,
    "remedy": str,
}
FLAT, INIT, RANDOM_ROWS = "flat", "init", "random-rows"


@dataclass(frozen=True)
class ControlSpec:
    """What a claim's control is: its name, why its prediction must fail there, what it changes
    (or `flat`: the metric must move across the claim's own grid), and what would make the
    experiment able to fail if the control meets the prediction too."""

    name: str
    why: str
    remedy: str
    set: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)
    metric: dict[str, Any] = field(default_factory=dict)
    flat: bool = False
    declared: bool = False  # in the claim file, not the default of its kind and metric

    def change(self) -> str:
        """What the control changes, in words."""
        if self.flat:
            return "no second experiment: the metric across the claim's grid"
        parts = [f"{k} = {v!r}" for k, v in {**self.set, **self.grid}.items()]
        parts += [f"metric.{k} = {v!r}" for k, v in self.metric.items()]
        return ", ".join(parts)


def _prunes_little(c: Claim) -> bool:
    return (
        c.kind == "comparison"
        and c.prediction.get("relation") == "<="
        and c.grid.get("prune.mode") == ["small"]
    )


def default_control(c: Claim) -> ControlSpec:
    """The control a claim inherits from its kind and metric."""
    if c.kind in ("trend", "rate"):
        return ControlSpec(
            FLAT,
            "a trend or a rate needs a metric that moves: one constant (or at its floor) across "
            "the grid cannot show either",
            "a grid over which the metric moves: harder test prompts (test_sampling = 'iid'), "
            "shorter contexts, a smaller alpha', or the paper's regime",
            flat=True,
        )
    if _prunes_little(c):
        return ControlSpec(
            RANDOM_ROWS,
            "pruning the same share of rows at random must cost more than the margin, or the "
            "claim cannot tell which rows matter",
            "a regime in which pruning costs something: a narrower MLP (smaller m), a larger "
            "share pruned, a metric that is not at its floor, or the paper's regime",
            grid={"prune.mode": ["random"]},
        )
    return ControlSpec(
        INIT,
        "the model at initialisation (0 training steps, the trained model's seeds) has learned "
        "nothing: the prediction is about what training does",
        "a prediction (threshold, margin, eps) that the untrained model does not meet already",
        set={"train.steps": 0},
    )


def control_of(c: Claim) -> ControlSpec:
    """The claim's declared `[control]`, else its default."""
    t = c.control
    if not t:
        return default_control(c)
    if t.get("flat"):
        return dataclasses.replace(
            default_control(dataclasses.replace(c, kind="trend")),
            name=t.get("name", FLAT),
            why=t.get("why", ""),
            remedy=t.get("remedy", ""),
            declared=True,
        )
    return ControlSpec(
        t.get("name", "declared"),
        t.get("why", ""),
        t.get("remedy", ""),
        dict(t.get("set", {})),
        {k: list(v) for k, v in t.get("grid", {}).items()},
        dict(t.get("metric", {})),
        declared=True,
    )


def check_control(path: Path, raw: dict[str, Any], metric_keys: set[str]) -> None:
    """The claim file's `[control]` table: keys, types, and names the claim can apply (ClaimError,
    naming the file and key)."""
    table = raw.get("control")
    if table is None:
        return
    grids = [raw.get("grid", {})] + [t.get("grid", {}) for t in raw["profiles"].values()]
    grid = {a: v for g in grids for a, v in g.items()}
    for k, v in table.items():
        if k not in CONTROL_KEYS:
            fail(path, f"control.{k}", "unknown key" + suggest(k, CONTROL_KEYS))
        check_type(path, f"control.{k}", v, CONTROL_KEYS[k])
    for k in ("name", "why"):
        if not table.get(k):
            fail(path, f"control.{k}", "missing (a declared control says what it is and why)")
    changes = [k for k in ("set", "grid", "metric") if table.get(k)]
    if table.get("flat") and changes:
        fail(path, "control.flat", f"a flat control changes nothing (remove control.{changes[0]})")
    if not table.get("flat") and not changes:
        fail(path, "control", "changes nothing: give set, grid or metric, or flat = true")
    for k in table.get("set", {}):
        if not axis_known(k):
            fail(path, f"control.set.{k}", "not a setting or eval parameter")
    for k, v in table.get("grid", {}).items():
        if k not in grid:
            fail(path, f"control.grid.{k}", "not a grid axis of this claim" + suggest(k, grid))
        check_type(path, f"control.grid.{k}", v, list)
    for k in table.get("metric", {}):
        if k not in metric_keys:
            fail(path, f"control.metric.{k}", "not a metric key" + suggest(k, metric_keys))


def _set_value(c: Claim, base: dict, grid: dict[str, list], key: str, value: Any) -> list[str]:
    """Apply one setting override: a plain grid axis becomes the one value (paired over, so the
    seed stays the claim's), a compound axis has its component replaced, else the base setting.
    Returns the axes to pair over."""
    for axis in list(grid):
        parts = axis_parts(axis)
        if parts == [key]:
            grid[axis] = [value]
            return []
        if key in parts:
            i = parts.index(key)
            vals = [list(v[:i]) + [value] + list(v[i + 1 :]) for v in grid[axis]]
            grid[axis] = [v for j, v in enumerate(vals) if v not in vals[:j]]
            return []
    sec, k = key.split(".", 1)
    if sec == "train" and k == "steps":
        grid[key] = [value]  # a grid axis paired over: the seed is the trained model's
        return [key]
    if sec in base:
        base[sec][k] = value
    else:
        grid[key] = [value]
    return []


def derive_control(c: Claim, spec: ControlSpec | None = None) -> Claim | None:
    """The claim under its control (None for a flat control: it reads the claim's own rows)."""
    spec = spec or control_of(c)
    if spec.flat:
        return None
    base = copy.deepcopy(c.base_run)
    grid = {k: list(v) for k, v in c.grid.items()}
    pair = list(c.pair_over)
    for key, value in spec.set.items():
        pair += _set_value(c, base, grid, key, value)
    for axis, values in spec.grid.items():
        grid[axis] = list(values)
    metric = {**c.metric, **spec.metric}
    return dataclasses.replace(
        c, base_run=base, grid=grid, metric=metric, pair_over=pair, expectation=None
    )


__all__ = [
    "CONTROL_KEYS",
    "ControlSpec",
    "control_of",
    "default_control",
    "derive_control",
    "check_control",
    "FLAT",
    "INIT",
    "RANDOM_ROWS",
]
