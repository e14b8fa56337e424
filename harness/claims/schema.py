"""Claim files: declarative TOML, a shared base, profiles, and a strict validator.

A claim file names its source in the paper, its statement, the kind of
analysis, the setting (data / model / train overrides of the shared base
file), the grid (train axes that need their own models, eval axes measured on
each trained model), the metric, the pre-declared prediction, the profiles
(`quick`, `nightly`) and optionally a recorded expectation with its reason.

`load_claim` checks the structure here and every value (harness.claims.checks)
of the base file, the claim and *both* profiles, then every grid point of each
profile as a run configuration, before anything trains. Every problem is one
line "FILE: KEY: what is wrong (did you mean ...)" through `ClaimError`, blamed
on the file and key where the bad value is written.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from harness.claims import analysis_plan, checks
from harness.claims.claim import (
    BASELINE_KEYS,
    PRUNE_KEYS,
    SECTION_FIELDS,
    Claim,
    axis_known,
    axis_parts,
    is_eval_axis,
    point_config,
)
from harness.claims.control import check_control
from harness.claims.errors import ClaimError, check_type, fail, suggest
from harness.claims.grid import cartesian
from harness.claims.kinds import KINDS
from harness.claims.metrics import METRICS, check_metric
from harness.core.choices import PROFILES
from harness.world.config import split_name

__all__ = [
    "ClaimError",
    "suggest",
    "load_claim",
    "load_toml",
    "discover",
    "deep_merge",
    "KINDS",
    "PROFILES",
    "METRICS",
]

TOP_KEYS = {
    "id": str,
    "source": str,
    "statement": str,
    "kind": str,
    "base": str,
    "assumption_break": str,
    "paper_trend": str,
    "setting": dict,
    "grid": dict,
    "replicates": int,
    "metric": dict,
    "prediction": dict,
    "profiles": dict,
    "expectation": dict,
    "eval": dict,
    "select": dict,
    "pair_over": list,
    "figure": str,
    "changes": list,
    "form": str,
    "readings": dict,
    "control": dict,  # the control beside the claim: harness.claims.control
    "multiverse": dict,  # narrowing of the multiverse: harness.claims.multiverse.load_narrowing
}
REQUIRED = ("id", "source", "statement", "kind", "metric", "prediction", "profiles")
# a base file's [[changes]] log covers what its claims inherit (harness.claims.ledger)
BASE_KEYS = {"setting": dict, "eval": dict, "replicates": int, "changes": list}
EVAL_KEYS = {"n_test": int, "chunk": int}
KEY_TEXTS = {  # what the [eval] and generic [metric] keys mean (docs/claim-files.md)
    "n_test": "test prompts per trained model and eval point",
    "chunk": "test prompts measured at once (memory only; never changes a result)",
    "name": "the registered metric (see Metrics below)",
    "eps": "the level a metric with `needs eps` counts against (e.g. steps until loss <= eps)",
    "domain": "`id` (unseen in-domain tasks) or `ood` (out-of-domain patterns)",
    "search": "the grid axis a searched minimum runs over (e.g. the shortest l_ts reaching eps)",
    "at": "`final` (after training) or `initial` (at initialisation) for attention metrics",
    "worlds": "how seeds that drew different worlds of the mixture factor are judged: `pooled` "
    "(the default) or `each` (see Named readings)",
}
DEFAULT_EVAL = {"n_test": 1000, "chunk": 2048}
# + those of the registered kinds and metrics
METRIC_KEYS = {"name": str, "eps": float, "domain": str, "search": str, "at": str, "worlds": str}
EXPECTATION_KEYS = {"verdict": str, "reason": str, "profiles": list}
PROFILE_KEYS = {"replicates": int, "setting": dict, "grid": dict, "eval": dict}
# the id names files in the run folder (plots/<id>.png): nothing that leaves it
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
MAX_POINTS = 100_000  # grid points (train x eval) checked one by one

# (file, key prefix, table holding setting / eval / replicates / grid)
Layer = tuple[Path, str, dict]


def _check_keys(
    path: Path, prefix: str, table: dict, allowed: dict[str, type], kind: str = ""
) -> None:
    for k, v in table.items():
        if k not in allowed:
            where = checks.where_it_belongs(kind, k, prefix.rstrip(".")) if kind else ""
            fail(path, f"{prefix}{k}", "unknown key" + (where or suggest(k, allowed)))
        check_type(path, f"{prefix}{k}", v, allowed[k])


def _check_setting(path: Path, prefix: str, setting: dict) -> None:
    for section, values in setting.items():
        if section not in SECTION_FIELDS:
            fail(path, f"{prefix}{section}", "unknown section" + suggest(section, SECTION_FIELDS))
        if not isinstance(values, dict):
            fail(
                path,
                f"{prefix}{section}",
                f"must be a table, got {type(values).__name__} {values!r}",
            )
        for k in values:
            if k not in SECTION_FIELDS[section]:
                fail(
                    path,
                    f"{prefix}{section}.{k}",
                    "unknown parameter" + suggest(k, SECTION_FIELDS[section]),
                )
    checks.check_setting_values(path, prefix, setting)


def _check_grid(path: Path, prefix: str, grid: dict) -> None:
    known = (
        [f"{s}.{k}" for s, ks in SECTION_FIELDS.items() for k in ks]
        + [f"prune.{k}" for k in PRUNE_KEYS]
        + [f"baseline.{k}" for k in BASELINE_KEYS]
    )
    for axis, values in grid.items():
        parts = axis_parts(axis)
        for a in parts:
            if not axis_known(a):
                fail(path, f"{prefix}{axis}", f"unknown grid axis {a!r}" + suggest(a, known))
        if len(parts) > 1 and len({is_eval_axis(a) for a in parts}) > 1:
            fail(path, f"{prefix}{axis}", "a compound axis cannot mix train and eval parameters")
        if not isinstance(values, list) or not values:
            fail(path, f"{prefix}{axis}", f"must be a non-empty list of values, got {values!r}")
        if len(parts) > 1:
            for v in values:
                if not isinstance(v, list) or len(v) != len(parts):
                    fail(
                        path,
                        f"{prefix}{axis}",
                        f"each value of a compound axis must be a list of {len(parts)} values, got "
                        f"{v!r}",
                    )
    checks.check_grid_values(path, prefix, grid)


def _check_layer(path: Path, prefix: str, table: dict) -> None:
    """setting, grid, eval and replicates of the base file, the claim or one profile."""
    _check_setting(path, f"{prefix}setting.", table.get("setting", {}))
    _check_grid(path, f"{prefix}grid.", table.get("grid", {}))
    _check_keys(path, f"{prefix}eval.", table.get("eval", {}), EVAL_KEYS)
    checks.check_eval_values(path, f"{prefix}eval.", table.get("eval", {}))
    if "replicates" in table:
        checks.check_replicates(path, f"{prefix}replicates", table["replicates"])


def deep_merge(base: dict, over: dict) -> dict:
    """Recursive dict merge; `over` wins."""
    out = dict(base)
    for k, v in over.items():
        out[k] = (
            deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out


def load_toml(path: Path) -> dict:
    """The parsed file; ClaimError naming it if it is a folder, unreadable, not UTF-8 text or not
    TOML."""
    if path.is_dir():
        raise ClaimError(f"{path}: is a folder, not a claim file")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except UnicodeDecodeError as exc:
        raise ClaimError(
            f"{path}: not a UTF-8 text file (binary or another encoding; byte {exc.start})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ClaimError(f"{path}: not valid TOML: " + " ".join(str(exc).split())) from None
    except OSError as exc:
        raise ClaimError(f"{path}: cannot read: {exc.strerror}") from None


def _read(path: Path, parsed: dict | None = None) -> tuple[dict, Path, dict]:
    """The claim file (or `parsed`, its table as read) and its base file, structure and values
    checked: (raw, base path, base)."""
    if not SAFE_ID.fullmatch(path.stem):
        fail(
            path,
            "id",
            f"the file name {path.stem!r} is not a safe claim id (letters, digits, '-' and '_', "
            "starting with a letter or digit): the id names the claim's plot files",
        )
    raw = load_toml(path) if parsed is None else parsed
    _check_keys(path, "", raw, TOP_KEYS)
    for k in REQUIRED:
        if k not in raw:
            fail(path, k, "missing required key")
    if raw["kind"] not in KINDS:
        fail(path, "kind", f"unknown kind {raw['kind']!r}" + suggest(raw["kind"], KINDS.names()))
    if raw["id"] != path.stem:
        fail(path, "id", f"must equal the file name {path.stem!r}, got {raw['id']!r}")
    base_path = path.parent / raw.get("base", "_base.toml")
    base: dict = {}
    if base_path.is_file() or base_path.is_dir():
        base = load_toml(base_path)
        _check_keys(base_path, "", base, BASE_KEYS)
        _check_layer(base_path, "", base)
        analysis_plan.check_changes(base_path, base.get("changes", []))
    elif "base" in raw:
        fail(path, "base", f"base file {base_path} does not exist")
    _check_layer(path, "", raw)
    _check_keys(path, "metric.", raw["metric"], checks.metric_types(METRIC_KEYS), raw["kind"])
    checks.check_metric_fields(path, raw["kind"], raw["metric"])
    checks.check_worlds(path, raw["metric"])
    _check_keys(path, "prediction.", raw["prediction"], checks.prediction_types(), raw["kind"])
    checks.check_prediction(path, raw["kind"], raw["metric"], raw["prediction"])
    checks.check_form(path, raw)
    if "expectation" in raw:
        checks.check_expectation(path, raw["expectation"], EXPECTATION_KEYS)
    analysis_plan.check_changes(path, raw.get("changes", []))
    for k in raw.get("pair_over", []):
        check_type(path, "pair_over", k, str)
    for p, table in raw["profiles"].items():
        if p not in PROFILES:
            fail(path, f"profiles.{p}", "unknown profile" + suggest(p, PROFILES))
        if not isinstance(table, dict):
            fail(path, f"profiles.{p}", f"must be a table, got {type(table).__name__} {table!r}")
        _check_keys(path, f"profiles.{p}.", table, PROFILE_KEYS)
        _check_layer(path, f"profiles.{p}.", table)
    for p in PROFILES:
        if p not in raw["profiles"]:
            fail(
                path,
                f"profiles.{p}",
                "missing (every claim defines both the quick and the nightly profile)",
            )
    check_control(path, raw, set(checks.metric_types(METRIC_KEYS)))
    return raw, base_path, base


def load_claim(path: str | Path, profile: str = "quick", parsed: dict | None = None) -> Claim:
    """Read (or take `parsed`, the file's table), merge with its base, validate every profile; the
    claim resolved for `profile`. ClaimError on any problem."""
    path = Path(path)
    if profile not in PROFILES:
        raise ClaimError(
            f"{path}: profile: unknown profile {profile!r}" + suggest(profile, PROFILES)
        )
    raw, base_path, base = _read(path, parsed)
    resolved = {p: _resolve(path, raw, base_path, base, p) for p in PROFILES}
    return resolved[profile]


def _resolve(path: Path, raw: dict, base_path: Path, base: dict, profile: str) -> Claim:
    prof = raw["profiles"][profile]
    layers: list[Layer] = [
        (base_path, "", base),
        (path, "", raw),
        (path, f"profiles.{profile}.", prof),
    ]
    setting: dict = {}
    ev = dict(DEFAULT_EVAL)
    for _, _, table in layers:
        setting = deep_merge(setting, table.get("setting", {}))
        ev.update(table.get("eval", {}))
    grid = dict(raw.get("grid", {}))
    grid.update(prof.get("grid", {}))
    replicates = prof.get("replicates", raw.get("replicates", base.get("replicates", 3)))
    claim = Claim(
        id=raw["id"],
        path=str(path),
        source=raw["source"],
        statement=raw["statement"],
        kind=raw["kind"],
        assumption_break=raw.get("assumption_break", ""),
        paper_trend=raw.get("paper_trend", ""),
        profile=profile,
        base_run={s: setting.get(s, {}) for s in ("data", "model", "train")},
        grid=grid,
        replicates=replicates,
        metric=dict(raw["metric"]),
        prediction=dict(raw["prediction"]),
        eval=ev,
        select=dict(raw.get("select", {})),
        pair_over=list(raw.get("pair_over", [])),
        figure=raw.get("figure", ""),
        expectation=raw.get("expectation"),
        form=raw.get("form", "tight"),
        readings=dict(raw.get("readings", {})),
        control=dict(raw.get("control", {})),
    )
    claim.plan, claim.changes = (
        analysis_plan.resolve_plan(raw, base, profile),
        analysis_plan.changes_of(raw),
    )
    _check_points(claim, layers)
    _check_semantics(path, claim)
    return claim


def _blame(claim: Claim, layers: list[Layer], message: str) -> tuple[Path, str]:
    """(file, key) where the parameter a RunConfig error names is written: its grid axis, else the
    most specific setting that sets it (profile, claim, base), else the claim's setting."""
    path, prof = layers[1][0], layers[2][2]
    subject = set(re.findall(r"[A-Za-z_]\w*", message.split(" must ")[0]))
    mentioned = set(re.findall(r"[A-Za-z_]\w*", message))

    def grid_key(names: set[str]) -> str | None:
        for axis in claim.grid:
            if names & {split_name(a)[1] for a in axis_parts(axis)}:
                return (
                    f"profiles.{claim.profile}.grid." if axis in prof.get("grid", {}) else "grid."
                ) + axis
        return None

    def setting_key(names: set[str]) -> tuple[Path, str] | None:
        for file, prefix, table in reversed(layers):
            for sec, values in table.get("setting", {}).items():
                for k in values:
                    if k in names:
                        return file, f"{prefix}setting.{sec}.{k}"
        return None

    key = grid_key(subject)
    if key:
        return path, key
    found = setting_key(subject)
    if found:
        return found
    key = grid_key(mentioned)
    return (path, key) if key else (setting_key(mentioned) or (path, "setting"))


def _check_points(claim: Claim, layers: list[Layer]) -> None:
    """Every grid point (train x eval values) of the profile, and every train point alone, is a
    valid run configuration."""
    n = 1
    for values in claim.grid.values():
        n *= len(values)
    if n > MAX_POINTS:
        fail(
            claim.path,
            "grid",
            f"{n} grid points in profile {claim.profile!r} (at most {MAX_POINTS})",
        )
    train_grid = {a: v for a, v in claim.grid.items() if a in claim.train_axes}
    # every full point, and every train point alone: a unit trains from the train point (eval axes
    # apply at test)
    for point in cartesian(claim.grid) + (
        cartesian(train_grid) if len(train_grid) < len(claim.grid) else []
    ):
        try:
            point_config(claim, point)
        except (ValueError, TypeError) as exc:
            file, key = _blame(claim, layers, str(exc))
            where = f"at grid point {point}: " if point and ".grid." in f".{key}" else ""
            fail(file, key, f"{where}{exc} (profile {claim.profile})")


def _check_semantics(path: Path, c: Claim) -> None:
    """Cross-field checks of one resolved profile: metric names and parameters, axes named by
    metric, select, pair_over."""
    name = c.metric.get("name")
    if name is None:
        fail(path, "metric.name", "missing")
    if name not in METRICS:
        fail(path, "metric.name", f"unknown metric {name!r}" + suggest(name, METRICS.names()))
    try:
        problem = check_metric(c) or KINDS.get(c.kind).check_claim(c)
    except (ValueError, TypeError) as exc:
        problem = ("setting", str(exc))
    if problem:
        fail(path, problem[0], problem[1])
    for key in KINDS.get(c.kind).metric_fields:
        if key not in c.metric:
            fail(
                path,
                f"metric.{key}",
                f"missing (kind '{c.kind}' reads it" + (": the swept axis)" if key == "x" else ")"),
            )
    names = c.axis_names
    for key in ("x", "search"):
        if key in c.metric and c.metric[key] not in names:
            fail(
                path,
                f"metric.{key}",
                f"axis {c.metric[key]!r} is not in the grid" + suggest(c.metric[key], names),
            )
    train_names = [a for axis in c.train_axes for a in axis_parts(axis)]
    for k in c.pair_over:
        if k not in train_names:
            fail(
                path,
                "pair_over",
                f"{k!r} is not a train axis of the grid" + suggest(str(k), train_names),
            )
    for k in c.select:
        if k not in names:
            fail(path, f"select.{k}", "not a grid axis" + suggest(k, names))
    checks.check_selection(path, "select", c.select, c.grid)
    for key, sel in KINDS.get(c.kind).selections(c).items():  # the kind's own selections
        checks.check_selection(path, key, sel, c.grid)


def discover(paths: list[str | Path]) -> list[Path]:
    """Claim files under the given files/folders (skipping _base.toml and other _-files); the same
    file named twice counts once. ClaimError for a missing path or a folder without claim files."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(x for x in p.glob("*.toml") if not x.name.startswith("_"))
            if not found:
                raise ClaimError(
                    f"{p}: no claim files (*.toml not starting with '_') in this folder"
                )
            out += found
        elif p.exists():
            out.append(p)
        else:
            hint = (
                " (the claim files ship with the repository, not the package: run from a checkout,"
                " or name a folder of claim files)"
                if p == Path("claims")
                else ""
            )
            raise ClaimError(f"{p}: no such claim file or folder{hint}")
    seen: set[Path] = set()
    return [p for p in out if not (p.resolve() in seen or seen.add(p.resolve()))]
