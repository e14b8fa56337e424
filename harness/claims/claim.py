"""A claim resolved for one profile, and the one place that reads grid axes.

A grid axis is "section.key" (data / model / train parameters, `prune.*` and
`baseline.*` eval parameters) or a compound "a,b" whose values move together.
`axis_parts`, `split_axis`, `is_eval_axis` and `point_config` are the only
functions that parse axis names; everything else asks them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from harness.measure.architectures import ARCHITECTURES
from harness.world.config import DataConfig, ModelConfig, RunConfig, TrainConfig, split_name
from harness.world.test_fields import TEST_DATA_FIELDS

SECTION_FIELDS = {
    "data": {f.name for f in dataclasses.fields(DataConfig)},
    "model": {f.name for f in dataclasses.fields(ModelConfig)},
    "train": {f.name for f in dataclasses.fields(TrainConfig)},
}
# parameters that change only what a trained model is evaluated on (same weights)
# data keys that only change what a trained model is tested on (harness.world.test_fields)
EVAL_DATA_KEYS = set(TEST_DATA_FIELDS)
PRUNE_KEYS = {"mode", "fraction"}
# a claim's form (docs/paper.md §2): the theorem states the order, or what is enough
FORMS = ("tight", "sufficient")
# eval axis "baseline.method": the Transformer or a classical baseline on the same prompts
BASELINE_KEYS = {"method"}


def axis_known(axis: str) -> bool:
    sec, key = split_name(axis)
    return (
        (sec in SECTION_FIELDS and key in SECTION_FIELDS[sec])
        or (sec == "prune" and key in PRUNE_KEYS)
        or (sec == "baseline" and key in BASELINE_KEYS)
    )


def axis_parts(axis: str) -> list[str]:
    """Component names of a grid axis; "train.batch,train.steps" is a compound axis
    whose values are lists moving together (e.g. B and T at fixed N = B T)."""
    return [a.strip() for a in axis.split(",")]


def is_eval_axis(axis: str) -> bool:
    def one(a: str) -> bool:
        sec, key = split_name(a)
        return sec in ("prune", "baseline") or (sec == "data" and key in EVAL_DATA_KEYS)

    return all(one(a) for a in axis_parts(axis))


@dataclass
class Claim:
    """A validated claim resolved for one profile."""

    id: str
    path: str
    source: str
    statement: str
    kind: str
    assumption_break: str
    paper_trend: str
    profile: str
    base_run: dict[str, Any]  # RunConfig dict (data/model/train) before grid values
    grid: dict[str, list]  # axis -> values (train and eval axes)
    replicates: int
    metric: dict[str, Any]
    prediction: dict[str, Any]
    eval: dict[str, Any]
    select: dict[str, Any]  # eval-point filter applied before the analysis
    # train axes left out of the seed: points differing only in them share seeds
    pair_over: list[str]
    figure: str  # optional paper-comparison figure (harness.report.figures.FIGURES), "" for none
    expectation: dict[str, Any] | None
    # the analysis plan of this profile (harness.claims.analysis_plan)
    plan: dict[str, Any] = field(default_factory=dict)
    changes: list[dict[str, str]] = field(default_factory=list)  # the file's [[changes]] log
    # "tight" (both directions testable) or "sufficient" (one-sided; docs/paper.md §2)
    form: str = "tight"
    # unrecovered detail -> the reading this claim uses
    readings: dict[str, str] = field(default_factory=dict)
    # the claim file's [control] table; empty: the default of its kind (harness.claims.control)
    control: dict[str, Any] = field(default_factory=dict)
    # the named regime the setting is under (harness.claims.regime; "default": the files' own)
    regime: str = "default"

    @property
    def axis_names(self) -> list[str]:
        """Every parameter the grid sets (compound axes split into their parts)."""
        return [a for axis in self.grid for a in axis_parts(axis)]

    @property
    def train_axes(self) -> list[str]:
        return [a for a in self.grid if not is_eval_axis(a)]

    @property
    def eval_axes(self) -> list[str]:
        return [a for a in self.grid if is_eval_axis(a)]

    def expected_verdict(self) -> tuple[str, str] | None:
        """(verdict, reason) recorded for this profile, if any."""
        e = self.expectation
        if not e:
            return None
        if "profiles" in e and self.profile not in e["profiles"]:
            return None
        return e["verdict"], e["reason"]


def split_axis(axis: str, value: Any) -> dict[str, Any]:
    """{parameter: value} for one value of a (possibly compound) axis."""
    parts = axis_parts(axis)
    return {parts[0]: value} if len(parts) == 1 else dict(zip(parts, value))


def point_run(c: Claim, point: dict[str, Any], seed: int = 0) -> RunConfig:
    """The RunConfig of the base setting with `point`'s data/model/train values applied, not
    validated (eval values left out): what a seed is derived from (harness.claims.grid.unit_seed).
    """
    d: dict[str, Any] = {s: dict(v) for s, v in c.base_run.items()}
    for axis, v in point.items():
        sec, key = split_name(axis)
        if sec in d:
            d[sec][key] = v
    d["seed"] = seed
    return RunConfig.from_dict(d)


def point_config(c: Claim, point: dict[str, Any], seed: int = 0) -> RunConfig:
    """The RunConfig of the base setting with `point`'s data/model/train values applied, validated
    (and the point's eval values checked)."""
    for axis, v in point.items():
        sec, key = split_name(axis)
        if sec == "prune":
            from harness.measure.pruning import PRUNE_MODES

            if key == "mode" and v not in PRUNE_MODES:
                raise ValueError(f"pruning mode must be one of {', '.join(PRUNE_MODES)}, got {v!r}")
            if key == "fraction" and not (isinstance(v, (int, float)) and 0 <= v <= 1):
                raise ValueError(f"pruning fraction must be in [0, 1], got {v!r}")
        elif sec == "baseline":
            from harness.measure.baselines import METHODS

            if v not in METHODS:
                raise ValueError(f"baseline.method must be one of {', '.join(METHODS)}, got {v!r}")
    run = point_run(c, point, seed).validate()
    ARCHITECTURES.get(run.model.arch)  # ValueError naming the unknown architecture
    return run
