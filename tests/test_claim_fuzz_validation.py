"""Property: a claim file broken at random (a value, a type, a key, a table changed; NaN, inf,
booleans, repeats, negative numbers injected) is either rejected with one ClaimError line naming the
file, or accepted, sane (finite, in range, only the fields its kind reads) and then expands into
units whose every grid point is a valid run and whose prediction formats, without a traceback. No
training."""

from __future__ import annotations

import copy
import datetime
import json
import math
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.claims.checks import metric_types, prediction_types
from harness.claims.claim import point_config
from harness.claims.grid import expand
from harness.claims.kinds.base import KINDS
from harness.claims.schema import METRIC_KEYS, TOP_KEYS, ClaimError
from harness.claims.verdicts import judge
from harness.loading import load_claims

CLAIMS = Path(__file__).resolve().parent.parent / "claims"
SEEDS = [
    "ood-s1-trend",
    "batch-eps",
    "prune-small",
    "lts-alpha",
    "attn-concentration",
    "indomain-unseen",
    "task-coverage",
]
KEY_POOL = sorted(
    {
        *TOP_KEYS,
        *metric_types(METRIC_KEYS),
        *prediction_types(),
        "quick",
        "nightly",
        "n_test",
        "chunk",
        "S1",
        "alpha",
        "steps",
        "data",
        "train",
        "model",
        "level",
        "log",
        "data.S1",
        "data.alpha",
        "train.batch",
        "prune.fraction",
    }
)
ODD = st.sampled_from(
    [
        math.nan,
        math.inf,
        -math.inf,
        True,
        False,
        0,
        -1,
        -0.5,
        0.0,
        1.5,
        10**30,
        1e300,
        "x",
        "",
        [],
        {},
        [1, 1],
        [0.5, 0.5],
        {"a": 1},
        [[1, 2]],
        ["quick"],
        7,
    ]
).map(copy.deepcopy)


def toml_value(v: Any) -> str:
    """TOML for a parsed value (inline tables for tables; enough for these files)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, datetime.date):  # a [[changes]] entry's date: a TOML local date
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml_doc(d: dict) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in d.items())


def containers(obj: Any, out: list | None = None) -> list:
    """Every table and list in `obj`, itself included."""
    out = [] if out is None else out
    if isinstance(obj, (dict, list)):
        out.append(obj)
        for v in obj.values() if isinstance(obj, dict) else obj:
            containers(v, out)
    return out


@st.composite
def mutate(draw: st.DrawFn, doc: dict) -> dict:
    """`doc` with one to three random edits."""
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(containers(doc)))
        op = draw(st.sampled_from(["set", "delete", "rename", "add", "repeat"]))
        if isinstance(target, dict):
            keys = list(target)
            if op == "add" or not keys:
                target[draw(st.sampled_from(KEY_POOL))] = draw(ODD)
                continue
            k = draw(st.sampled_from(keys))
            if op == "delete":
                del target[k]
            elif op == "rename":
                target[draw(st.sampled_from(KEY_POOL))] = target.pop(k)
            elif op == "repeat" and isinstance(target[k], list) and target[k]:
                target[k].append(copy.deepcopy(target[k][0]))
            else:
                target[k] = draw(ODD)
        elif target:
            i = draw(st.integers(0, len(target) - 1))
            if op == "delete":
                del target[i]
            elif op in ("repeat", "add"):
                target.append(copy.deepcopy(target[i]))
            else:
                target[i] = draw(ODD)
    return doc


@st.composite
def broken_files(draw: st.DrawFn) -> tuple[str, dict, dict]:
    name = draw(st.sampled_from(SEEDS))
    claim = tomllib.loads((CLAIMS / f"{name}.toml").read_text())
    base = tomllib.loads((CLAIMS / "_base.toml").read_text())
    if draw(st.booleans()):
        claim = draw(mutate(claim))
    else:
        base = draw(mutate(base))
    return name, claim, base


def numbers(obj: Any) -> list[Any]:
    """Every number (booleans included) inside `obj`."""
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in numbers(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in numbers(v)]
    return [obj] if isinstance(obj, (int, float)) else []


def sane(c: Any) -> None:
    """What an accepted claim may not hold: non-finite numbers, empty evals, stray prediction
    fields."""
    assert all(
        math.isfinite(x)
        for x in numbers([c.base_run, c.grid, c.prediction, c.metric, c.eval, c.select])
    ), c.raw
    assert (
        all(type(v) is int and v >= 1 for v in c.eval.values())
        and type(c.replicates) is int
        and c.replicates >= 1
    )
    # only the fields the kind reads
    assert set(c.prediction) <= set(KINDS.get(c.kind).prediction_fields)
    assert not any(
        isinstance(v, bool) for v in numbers(c.prediction) if v is not c.prediction.get("offset")
    )


def runs_without_traceback(paths: list[Path]) -> None:
    """Accepted in both profiles: sane, every unit and eval point a distinct valid run; the
    prediction formats."""
    for profile in ("quick", "nightly"):
        for c in load_claims(paths, profile):
            sane(c)
            units = expand(c)
            assert units and len({u.key for u in units}) == len(units)  # no repeated unit
            assert len({json.dumps(ep, sort_keys=True) for ep in units[0].eval_points}) == len(
                units[0].eval_points
            )
            for u in units:
                u.group_key()
                for ep in u.eval_points:
                    point_config(c, {**u.train_point, **ep}, u.run.seed)
            assert judge(c, []).verdict == "ERROR"  # formats the prediction text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_files())
def test_broken_file_is_rejected_cleanly_or_runs(case):
    name, claim, base = case
    with tempfile.TemporaryDirectory() as d:
        path, base_path = Path(d) / f"{name}.toml", Path(d) / "_base.toml"
        path.write_text(toml_doc(claim))
        base_path.write_text(toml_doc(base))
        try:
            runs_without_traceback([path])
        except ClaimError as exc:
            msg = str(exc)
            assert "\n" not in msg and (
                msg.startswith(f"{path}: ") or msg.startswith(f"{base_path}: ")
            ), msg


def test_unbroken_seeds_round_trip_and_load(tmp_path):
    (tmp_path / "_base.toml").write_text(
        toml_doc(tomllib.loads((CLAIMS / "_base.toml").read_text()))
    )
    for name in SEEDS:
        (tmp_path / f"{name}.toml").write_text(
            toml_doc(tomllib.loads((CLAIMS / f"{name}.toml").read_text()))
        )
    runs_without_traceback([tmp_path])
