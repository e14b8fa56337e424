"""Claim files: declarative TOML, a shared base, profiles, and a strict validator.

A claim file names its source in the paper, its statement, the kind of
analysis, the setting (data / model / train overrides of the shared base
file), the grid (train axes that need their own models, eval axes measured on
each trained model), the metric, the pre-declared prediction, the profiles
(`quick`, `nightly`) and optionally a recorded expectation with its reason.

Every problem is reported as one line "FILE: KEY: what is wrong (did you mean
...)" through `ClaimError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.claims.metrics import check_metric
from harness.claims.claim import (BASELINE_KEYS, PRUNE_KEYS, SECTION_FIELDS, Claim, axis_known, axis_parts,
                                  is_eval_axis, point_config, split_axis)

KINDS = ("rate", "bound", "comparison", "trend", "threshold")
VERDICTS = ("CONFIRMED", "REFUTED", "INCONCLUSIVE", "ERROR")
PROFILES = ("quick", "nightly")
METRICS = (
    "steps_to_eps", "samples_to_eps", "error_rate", "attn_mass", "attn_gain",
    "label_alignment", "feature_alignment", "large_neuron_fraction", "norm_ratio",
    "attn_mass_layer",  # deep model: same-pattern mass of one block (metric.layer, 1-based; 0 = the weakest block)
)
TOP_KEYS = {
    "id": str, "source": str, "statement": str, "kind": str, "base": str, "assumption_break": str,
    "paper_trend": str, "setting": dict, "grid": dict, "replicates": int, "metric": dict,
    "prediction": dict, "profiles": dict, "expectation": dict, "eval": dict, "select": dict, "pair_over": list, "figure": str,
}
REQUIRED = ("id", "source", "statement", "kind", "metric", "prediction", "profiles")
EVAL_KEYS = {"n_test": int, "chunk": int}
METRIC_KEYS = {
    "name": str, "eps": float, "domain": str, "x": str, "search": str, "at": str,
    "a": dict, "b": dict, "log": bool, "factor": float, "layer": int, "head": int,
}
PREDICTION_KEYS = {
    "exponent": float, "margin": float, "offset": bool, "eps": float, "direction": str,
    "relation": str, "threshold": float, "level": float,
}
EXPECTATION_KEYS = {"verdict": str, "reason": str, "profiles": list}
PROFILE_KEYS = {"replicates": int, "setting": dict, "grid": dict, "eval": dict}


class ClaimError(ValueError):
    """A malformed claim file: the message is one line naming the file and key."""


def suggest(name: str, allowed: list[str] | tuple[str, ...] | set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(sorted(allowed))})"


def _fail(path: Path | str, key: str, msg: str) -> None:
    raise ClaimError(f"{path}: {key}: {msg}")


def _type_name(t: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false", dict: "a table", list: "a list"}[t]


def _check_type(path: Path, key: str, value: Any, t: type) -> None:
    ok = isinstance(value, t) and not (t in (int, float) and isinstance(value, bool))
    if t is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        _fail(path, key, f"must be {_type_name(t)}, got {type(value).__name__} {value!r}")


def _check_keys(path: Path, prefix: str, table: dict, allowed: dict[str, type] | set[str]) -> None:
    for k, v in table.items():
        if k not in allowed:
            _fail(path, f"{prefix}{k}", "unknown key" + suggest(k, list(allowed)))
        if isinstance(allowed, dict):
            _check_type(path, f"{prefix}{k}", v, allowed[k])


def _check_setting(path: Path, prefix: str, setting: dict) -> None:
    for section, values in setting.items():
        if section not in SECTION_FIELDS:
            _fail(path, f"{prefix}{section}", "unknown section" + suggest(section, list(SECTION_FIELDS)))
        if not isinstance(values, dict):
            _fail(path, f"{prefix}{section}", "must be a table")
        for k in values:
            if k not in SECTION_FIELDS[section]:
                _fail(path, f"{prefix}{section}.{k}", "unknown parameter" + suggest(k, SECTION_FIELDS[section]))


def _check_grid(path: Path, prefix: str, grid: dict) -> None:
    known = ([f"{s}.{k}" for s, ks in SECTION_FIELDS.items() for k in ks] + [f"prune.{k}" for k in PRUNE_KEYS]
             + [f"baseline.{k}" for k in BASELINE_KEYS])
    for axis, values in grid.items():
        parts = axis_parts(axis)
        for a in parts:
            if not axis_known(a):
                _fail(path, f"{prefix}{axis}", f"unknown grid axis {a!r}" + suggest(a, known))
        if len(parts) > 1 and len({is_eval_axis(a) for a in parts}) > 1:
            _fail(path, f"{prefix}{axis}", "a compound axis cannot mix train and eval parameters")
        if not isinstance(values, list) or not values:
            _fail(path, f"{prefix}{axis}", f"must be a non-empty list of values, got {values!r}")
        if len(parts) > 1:
            for v in values:
                if not isinstance(v, list) or len(v) != len(parts):
                    _fail(path, f"{prefix}{axis}", f"each value of a compound axis must be a list of {len(parts)} values, got {v!r}")


def deep_merge(base: dict, over: dict) -> dict:
    """Recursive dict merge; `over` wins."""
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ClaimError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ClaimError(f"{path}: cannot read: {exc.strerror}") from None


def load_claim(path: str | Path, profile: str = "quick") -> Claim:
    """Read, merge with its base, resolve `profile`, validate; ClaimError on any problem."""
    path = Path(path)
    if profile not in PROFILES:
        raise ClaimError(f"{path}: profile: unknown profile {profile!r}" + suggest(profile, PROFILES))
    raw = load_toml(path)
    _check_keys(path, "", raw, TOP_KEYS)
    for k in REQUIRED:
        if k not in raw:
            _fail(path, k, "missing required key")
    if raw["kind"] not in KINDS:
        _fail(path, "kind", f"unknown kind {raw['kind']!r}" + suggest(raw["kind"], KINDS))
    if raw["id"] != path.stem:
        _fail(path, "id", f"must equal the file name {path.stem!r}, got {raw['id']!r}")
    base_name = raw.get("base", "_base.toml")
    base_path = path.parent / base_name
    base = load_toml(base_path) if base_path.exists() else {}
    if base:
        _check_keys(base_path, "", base, {"setting": dict, "eval": dict, "replicates": int})
        _check_setting(base_path, "setting.", base.get("setting", {}))
    elif "base" in raw:
        _fail(path, "base", f"base file {base_path} does not exist")
    _check_setting(path, "setting.", raw.get("setting", {}))
    _check_grid(path, "grid.", raw.get("grid", {}))
    _check_keys(path, "metric.", raw["metric"], METRIC_KEYS)
    _check_keys(path, "prediction.", raw["prediction"], PREDICTION_KEYS)
    _check_keys(path, "eval.", raw.get("eval", {}), EVAL_KEYS)
    if "expectation" in raw:
        _check_keys(path, "expectation.", raw["expectation"], EXPECTATION_KEYS)
        for k in ("verdict", "reason"):
            if k not in raw["expectation"]:
                _fail(path, f"expectation.{k}", "missing (a recorded expectation needs a verdict and its reason)")
        v = raw["expectation"]["verdict"]
        if v not in VERDICTS:
            _fail(path, "expectation.verdict", f"unknown verdict {v!r}" + suggest(v, VERDICTS))
        for p in raw["expectation"].get("profiles", []):
            if p not in PROFILES:
                _fail(path, "expectation.profiles", f"unknown profile {p!r}" + suggest(p, PROFILES))
    for p, table in raw["profiles"].items():
        if p not in PROFILES:
            _fail(path, f"profiles.{p}", "unknown profile" + suggest(p, PROFILES))
        _check_keys(path, f"profiles.{p}.", table, PROFILE_KEYS)
        _check_setting(path, f"profiles.{p}.setting.", table.get("setting", {}))
        _check_grid(path, f"profiles.{p}.grid.", table.get("grid", {}))
        _check_keys(path, f"profiles.{p}.eval.", table.get("eval", {}), EVAL_KEYS)
    for p in PROFILES:
        if p not in raw["profiles"]:
            _fail(path, f"profiles.{p}", "missing (every claim defines both the quick and the nightly profile)")

    prof = raw["profiles"][profile]
    setting = deep_merge(deep_merge(base.get("setting", {}), raw.get("setting", {})), prof.get("setting", {}))
    grid = dict(raw.get("grid", {}))
    grid.update(prof.get("grid", {}))
    ev = {"n_test": 1000, "chunk": 2048}
    ev.update(base.get("eval", {}))
    ev.update(raw.get("eval", {}))
    ev.update(prof.get("eval", {}))
    replicates = prof.get("replicates", raw.get("replicates", base.get("replicates", 3)))
    if replicates < 1:
        _fail(path, f"profiles.{profile}.replicates", f"must be >= 1, got {replicates}")
    claim = Claim(
        id=raw["id"], path=str(path), source=raw["source"], statement=raw["statement"], kind=raw["kind"],
        assumption_break=raw.get("assumption_break", ""), paper_trend=raw.get("paper_trend", ""), profile=profile,
        base_run={s: setting.get(s, {}) for s in ("data", "model", "train")}, grid=grid, replicates=replicates,
        metric=dict(raw["metric"]), prediction=dict(raw["prediction"]), eval=ev, select=dict(raw.get("select", {})),
        pair_over=list(raw.get("pair_over", [])),
        figure=raw.get("figure", ""),
        expectation=raw.get("expectation"),
    )
    _check_semantics(path, claim)
    return claim


def _check_semantics(path: Path, c: Claim) -> None:
    """Cross-field checks: metric names, required prediction fields, valid configs."""
    name = c.metric.get("name")
    if name is None:
        _fail(path, "metric.name", "missing")
    if name not in METRICS:
        _fail(path, "metric.name", f"unknown metric {name!r}" + suggest(name, METRICS))
    problem = check_metric(c)
    if problem:
        _fail(path, problem[0], problem[1])
    need = {
        "rate": ("exponent", "margin"), "bound": ("eps",), "comparison": ("relation", "margin"),
        "trend": ("direction",), "threshold": ("relation", "threshold"),
    }[c.kind]
    for k in need:
        if k not in c.prediction:
            _fail(path, f"prediction.{k}", f"missing (required for kind '{c.kind}')")
    if "relation" in c.prediction and c.prediction["relation"] not in ("<=", ">="):
        _fail(path, "prediction.relation", f"must be '<=' or '>=', got {c.prediction['relation']!r}")
    if "direction" in c.prediction and c.prediction["direction"] not in ("increasing", "decreasing"):
        _fail(path, "prediction.direction", f"must be 'increasing' or 'decreasing', got {c.prediction['direction']!r}")
    if c.kind == "rate" and c.prediction["margin"] <= 0:
        _fail(path, "prediction.margin", f"must be > 0, got {c.prediction['margin']}")
    if c.kind in ("rate", "trend") and "x" not in c.metric:
        _fail(path, "metric.x", f"missing (kind '{c.kind}' needs the swept axis)")
    names = c.axis_names
    for key in ("x", "search"):
        if key in c.metric and c.metric[key] not in names:
            _fail(path, f"metric.{key}", f"axis {c.metric[key]!r} is not in the grid" + suggest(c.metric[key], names))
    train_names = [a for axis in c.train_axes for a in axis_parts(axis)]
    for k in c.pair_over:
        if k not in train_names:
            _fail(path, "pair_over", f"{k!r} is not a train axis of the grid" + suggest(str(k), train_names))
    for k in c.select:
        if k not in names:
            _fail(path, f"select.{k}", "not a grid axis" + suggest(k, names))
    # every grid point must be a valid run
    for axis, values in c.grid.items():
        for v in values:
            try:
                point_config(c, split_axis(axis, v))
            except (ValueError, TypeError) as exc:
                _fail(path, f"grid.{axis}", f"value {v!r}: {exc}")
    try:
        point_config(c, {}).validate()
    except (ValueError, TypeError) as exc:
        _fail(path, "setting", str(exc))


def discover(paths: list[str | Path]) -> list[Path]:
    """Claim files under the given files/folders (skipping _base.toml and other _-files)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(x for x in p.glob("*.toml") if not x.name.startswith("_"))
        elif p.exists():
            out.append(p)
        else:
            raise ClaimError(f"{p}: no such claim file or folder")
    return out
