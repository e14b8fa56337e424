"""Value checks of a claim file: exact types, finite numbers, ranges, no repeated grid values,
and only the fields the claim's kind reads.

schema.py checks the structure (known keys, tables where tables belong); these
checks look at every value a run will use, in the base file, the claim and
every profile, before anything trains. A NaN, a boolean where a number
belongs, `margin = inf` or `[20, 20]` is one ClaimError line naming the file
and the key where it is written, never a wrong verdict or a crash after training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_type_hints

from harness.claims.claim import FORMS, SECTION_FIELDS, axis_parts
from harness.claims.errors import check_table, check_type, fail, suggest
from harness.claims.kinds import KINDS
from harness.claims.metrics import METRICS
from harness.claims.verdict import VERDICTS
from harness.core.choices import PROFILES
from harness.world.config import DataConfig, ModelConfig, TrainConfig, split_name

_TYPES = {"int": int, "float": float, "str": str, "bool": bool}
FIELD_TYPES: dict[str, dict[str, type]] = {
    sec: {
        k: _TYPES[t] if isinstance(t, str) else t
        for k, t in get_type_hints(cls).items()
        if k in SECTION_FIELDS[sec]
    }
    for sec, cls in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig))
}
EVAL_AXIS_TYPES = {"prune.mode": str, "prune.fraction": float, "baseline.method": str}


def axis_type(axis: str) -> type:
    """The type a value of one grid-axis part must have."""
    if axis in EVAL_AXIS_TYPES:
        return EVAL_AXIS_TYPES[axis]
    sec, key = split_name(axis)
    return FIELD_TYPES[sec][key]


def check_setting_values(path: Path | str, prefix: str, setting: dict[str, dict[str, Any]]) -> None:
    """Each setting value has its parameter's exact type and is finite (structure checked
    before)."""
    for sec, values in setting.items():
        for k, v in values.items():
            check_type(path, f"{prefix}{sec}.{k}", v, FIELD_TYPES[sec][k])


def _dup_key(value: Any) -> Any:
    """Grid values equal as parameters (1 and 1.0) compare equal."""
    if isinstance(value, list):
        return tuple(_dup_key(v) for v in value)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def check_grid_values(path: Path | str, prefix: str, grid: dict[str, list]) -> None:
    """Each grid value has its axis' exact type, is finite, and appears once (a repeat would count
    its evidence twice)."""
    for axis, values in grid.items():
        parts = axis_parts(axis)
        seen: set[Any] = set()
        for v in values:
            for part, item in zip(parts, [v] if len(parts) == 1 else v):
                check_type(path, f"{prefix}{axis}", item, axis_type(part))
            k = _dup_key(v)
            if k in seen:
                fail(
                    path,
                    f"{prefix}{axis}",
                    f"value {v!r} is repeated (each grid value counts once; a repeat would count "
                    "its evidence twice)",
                )
            seen.add(k)


def check_eval_values(path: Path | str, prefix: str, ev: dict[str, Any]) -> None:
    """n_test (test prompts) and chunk (evaluation batch) are integers >= 1 (types checked
    before)."""
    for k, v in ev.items():
        if v < 1:
            fail(path, f"{prefix}{k}", f"must be >= 1, got {v}")


def check_replicates(path: Path | str, key: str, value: int) -> None:
    if value < 1:
        fail(path, key, f"must be >= 1, got {value}")


def check_form(path: Path | str, raw: dict[str, Any]) -> None:
    """`form` is 'tight' or 'sufficient' (default 'tight'); prediction.limit only with 'sufficient';
    readings are strings."""
    form = raw.get("form", "tight")
    if form not in FORMS:
        fail(
            path,
            "form",
            f"must be 'tight' or 'sufficient', got {form!r}" + suggest(str(form), FORMS),
        )
    if "limit" in raw["prediction"] and form != "sufficient":
        fail(path, "prediction.limit", "only a claim of form = 'sufficient' has a one-sided limit")
    for k, v in raw.get("readings", {}).items():
        check_type(path, f"readings.{k}", v, str)


def check_prediction(
    path: Path | str, kind: str, metric: dict[str, Any], pred: dict[str, Any]
) -> None:
    """Only the fields the kind reads (a field nothing reads would be silently ignored), each finite
    and in range."""
    k_ = KINDS.get(kind)
    allowed = tuple(k_.prediction_fields)
    for k in k_.required:
        if k not in pred:
            fail(path, f"prediction.{k}", f"missing (required for kind '{kind}')")
    for k in pred:
        if k not in allowed:
            fail(
                path,
                f"prediction.{k}",
                f"kind '{kind}' does not read it (it reads: {', '.join(allowed)})",
            )
    if "relation" in pred and pred["relation"] not in ("<=", ">="):
        fail(path, "prediction.relation", f"must be '<=' or '>=', got {pred['relation']!r}")
    if "direction" in pred and pred["direction"] not in ("increasing", "decreasing"):
        fail(
            path,
            "prediction.direction",
            f"must be 'increasing' or 'decreasing', got {pred['direction']!r}",
        )
    problem = k_.check(metric, pred)
    if problem:
        fail(path, problem[0], problem[1])


def _kind_metric_keys(kind: str) -> dict[str, type]:
    """The [metric] keys only `kind` reads, required or optional."""
    k = KINDS.get(kind)
    return {**k.metric_fields, **k.metric_optional}


def check_metric_fields(path: Path | str, kind: str, metric: dict[str, Any]) -> None:
    """No [metric] key that only other kinds read (x for rate/trend, a and b for comparison)."""
    own = _kind_metric_keys(kind)
    for other in KINDS:
        for k in _kind_metric_keys(other):
            if k in metric and k not in own:
                readers = [n for n in KINDS if k in _kind_metric_keys(n)]
                fail(
                    path,
                    f"metric.{k}",
                    f"kind '{kind}' does not read it (only {' and '.join(readers)})",
                )


def where_it_belongs(kind: str, key: str, table: str) -> str:
    """For a key under the wrong table of a claim of `kind`: ' (`a` is a [metric] key of kind
    comparison, not a [prediction] key)', else ''."""
    k = KINDS.get(kind)
    homes = [
        name
        for name, keys in (("metric", _kind_metric_keys(kind)), ("prediction", k.prediction_fields))
        if key in keys and name != table
    ]
    if not homes:
        return ""
    return f" (`{key}` is a [{homes[0]}] key of kind {kind}, not a [{table}] key)"


def prediction_types() -> dict[str, type]:
    """Every [prediction] field some registered kind reads, with its type."""
    return {k: t for n in KINDS for k, t in KINDS.get(n).prediction_fields.items()}


def metric_types(base: dict[str, type]) -> dict[str, type]:
    """The [metric] keys: the generic ones, those of the registered kinds and those of the
    registered metrics."""
    out = dict(base)
    for n in KINDS:
        out.update(_kind_metric_keys(n))
    for n in METRICS:
        out.update(METRICS.get(n).reads)
    return out


def check_selection(path: Path | str, key: str, sel: dict[str, Any], grid: dict[str, list]) -> None:
    """Every value a selection (metric.a / metric.b / select) asks for is a value of its grid axis,
    else it matches nothing."""
    values: dict[str, list[Any]] = {}
    for axis, vals in grid.items():
        parts = axis_parts(axis)
        for i, part in enumerate(parts):
            values[part] = [v if len(parts) == 1 else v[i] for v in vals]
    for k, v in sel.items():
        if k in values and not any(_dup_key(v) == _dup_key(g) for g in values[k]):
            fail(
                path,
                f"{key}.{k}",
                f"value {v!r} is not a value of grid axis {k} ({', '.join(map(repr, values[k]))}): "
                "it would match nothing",
            )


def check_expectation(path: Path | str, e: dict[str, Any], keys: dict[str, type]) -> None:
    """A claim file's [expectation]: keys, a verdict with its reason, known profiles."""
    check_table(path, "expectation", e, keys)
    for k in ("verdict", "reason"):
        if k not in e:
            fail(
                path,
                f"expectation.{k}",
                "missing (a recorded expectation needs a verdict and its reason)",
            )
    if e["verdict"] not in VERDICTS:
        fail(
            path,
            "expectation.verdict",
            f"unknown verdict {e['verdict']!r}" + suggest(e["verdict"], VERDICTS),
        )
    for p in e.get("profiles", []):
        if not isinstance(p, str) or p not in PROFILES:
            fail(path, "expectation.profiles", f"unknown profile {p!r}" + suggest(p, PROFILES))


def check_worlds(path: Path, metric: dict) -> None:
    """`[metric] worlds` names a reading of WORLD_READINGS."""
    from harness.claims.world_split import WORLD_READINGS

    w = metric.get("worlds")
    if w is not None and w not in WORLD_READINGS:
        fail(path, "metric.worlds", f"must be one of {', '.join(WORLD_READINGS)}, got {w!r}")
