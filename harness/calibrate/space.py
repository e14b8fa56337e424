"""The calibration file (`claims/_calibration.toml`): the search space, objective and budget,
declared before the search runs and committed with its log.

```toml
[calibration]
regime = "paper"                 # the regime the winner is written as
profile = "quick"                # the claims' profile (their grids, eval and test prompts)
objective = "mean_abs_log_ratio" # over the figure claims' points, a measured 0 floored at its
seed = 20261204                  #   resolution; the seed of the random draws

[[stage]]                        # one target: its claims and the claims its winner applies to
name = "one-layer"
claims = ["fig-prune-ood"]
applies_to = ["arch:paper"]
method = "random"                # or "grid" (every combination)
budget = 16                      # random: settings drawn at the first rung
rungs = [4, 8]                   # replicates per rung (successive halving)
keep = 0.34                      # the share of settings a rung passes to the next
[stage.space]
"data.beta" = [1.0, 2.0]         # dotted setting keys, each with its candidate values
```
Every problem is one line naming the file and key, before anything trains."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.claims.claim import axis_known
from harness.claims.errors import check_table, check_type, fail, suggest
from harness.claims.schema import load_toml
from harness.world.config import split_name

CALIBRATION_FILE = "_calibration.toml"
OBJECTIVES = ("mean_abs_log_ratio",)
METHODS = ("random", "grid")
FILE_KEYS = ("calibration", "stage", "changes")
# a change to the file after a search ran: when, what, why, the winner it replaces, that search
CHANGE_KEYS = {"date": object, "what": str, "why": str, "old_winner": str, "search": str}
TOP_KEYS = {"regime": str, "profile": str, "objective": str, "seed": int}
STAGE_KEYS = {
    "name": str,
    "claims": list,
    "applies_to": list,
    "method": str,
    "budget": int,
    "rungs": list,
    "keep": float,
    "space": dict,
}


@dataclass(frozen=True)
class Stage:
    name: str
    claims: tuple[str, ...]
    applies_to: tuple[str, ...]
    method: str
    budget: int
    rungs: tuple[int, ...]
    keep: float
    space: dict[str, tuple[Any, ...]]


@dataclass(frozen=True)
class CalibrationSpec:
    path: str
    regime: str
    profile: str
    objective: str
    seed: int
    stages: tuple[Stage, ...]
    changes: tuple[dict[str, Any], ...] = ()


def _stage(path: Path, i: int, raw: Any) -> Stage:
    key = f"stage[{i}]"
    check_type(path, key, raw, dict)
    check_table(path, key, raw, STAGE_KEYS)
    for k in ("name", "claims", "space", "rungs"):
        if k not in raw:
            fail(path, f"{key}.{k}", "missing")
    method = raw.get("method", "random")
    if method not in METHODS:
        fail(path, f"{key}.method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    rungs = raw["rungs"]
    if not rungs or any(not isinstance(r, int) or r < 2 for r in rungs) or rungs != sorted(rungs):
        fail(path, f"{key}.rungs", f"replicates per rung, each >= 2, increasing; got {rungs!r}")
    keep = float(raw.get("keep", 0.34))
    if not 0 < keep <= 1:
        fail(path, f"{key}.keep", f"must be in (0, 1], got {keep}")
    budget = int(raw.get("budget", 0))
    if method == "random" and budget < 1:
        fail(path, f"{key}.budget", "a random search needs budget >= 1 (settings drawn)")
    space = {}
    for dotted, values in raw["space"].items():
        if not axis_known(dotted) or split_name(dotted)[0] not in ("data", "model", "train"):
            fail(path, f"{key}.space.{dotted}", "not a data, model or train setting")
        if not isinstance(values, list) or not values:
            fail(path, f"{key}.space.{dotted}", f"a non-empty list of values, got {values!r}")
        space[dotted] = tuple(values)
    return Stage(
        raw["name"],
        tuple(raw["claims"]),
        tuple(raw.get("applies_to", [])),
        method,
        budget,
        tuple(rungs),
        keep,
        space,
    )


def load_calibration(path: str | Path) -> CalibrationSpec:
    """The validated calibration file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no calibration file")
    raw = load_toml(path)
    for k in raw:
        if k not in FILE_KEYS:
            fail(path, k, "unknown table" + suggest(k, FILE_KEYS))
    for i, ch in enumerate(raw.get("changes", [])):
        check_table(path, f"changes[{i}]", ch, CHANGE_KEYS)
        for k in ("date", "what", "why"):
            if k not in ch:
                fail(path, f"changes[{i}].{k}", "missing (a change says when, what and why)")
    top = raw.get("calibration", {})
    check_type(path, "calibration", top, dict)
    check_table(path, "calibration", top, TOP_KEYS)
    for k in ("regime", "seed"):
        if k not in top:
            fail(path, f"calibration.{k}", "missing")
    objective = top.get("objective", OBJECTIVES[0])
    if objective not in OBJECTIVES:
        fail(
            path,
            "calibration.objective",
            f"unknown objective {objective!r}" + suggest(objective, OBJECTIVES),
        )
    stages = raw.get("stage", [])
    if not isinstance(stages, list) or not stages:
        fail(path, "stage", "at least one [[stage]]")
    return CalibrationSpec(
        str(path),
        top["regime"],
        top.get("profile", "quick"),
        objective,
        top["seed"],
        tuple(_stage(path, i, s) for i, s in enumerate(stages)),
        tuple({k: str(v) for k, v in ch.items()} for ch in raw.get("changes", [])),
    )


__all__ = ["CalibrationSpec", "Stage", "load_calibration", "CALIBRATION_FILE"]
