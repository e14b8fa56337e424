"""The package's shape: layers that only import downward, no import cycle, small documented modules,
and registries that take a new metric and a new claim kind from outside the package, end to end."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from conftest import TINY_SETTING, write_claim

from harness.claims.kinds.base import KINDS, ClaimKind, make_verdict
from harness.claims.metrics import METRICS, Metric, Row
from harness.claims.verdict import Estimate
from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent
# bottom to top; models/ sits below all of them, the top-level modules (cli, pytest_plugin, loading,
# preflight) above
LAYERS = ["core", "world", "measure", "training", "claims", "run", "report", "fuzz"]
MAX_LINES = 450  # formatted lines (ruff format, 100 columns)


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _imports() -> dict[str, set[str]]:
    """Module -> the harness modules it imports (`from pkg import sub` counts as importing
    pkg.sub)."""
    modules = {_module_name(p) for p in (ROOT / "harness").rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for p in (ROOT / "harness").rglob("*.py"):
        out: set[str] = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").startswith("harness")
            ):
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    out.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                out |= {a.name for a in node.names if a.name.startswith("harness")}
        edges[_module_name(p)] = out - {_module_name(p)}
    return edges


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else len(LAYERS)


def test_every_import_goes_down_or_sideways():
    upward = [
        (a, b)
        for a, bs in _imports().items()
        for b in bs
        if b != "harness" and _layer(b) > _layer(a)
    ]
    assert not upward, upward


def test_no_import_cycle():
    edges = _imports()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        for m in edges.get(n, ()):
            if m == "harness" or m.startswith("harness.__"):
                continue
            if state.get(m) == 1:
                cycles.append(stack[stack.index(m) :] + [m])
            elif m not in state:
                visit(m, stack + [m])
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n, [n])
    # a package's __init__ importing its own modules to register them is not a cycle of dependence
    real = [c for c in cycles if not all(x.startswith(c[0] + ".") or x == c[0] for x in c)]
    assert not real, real


def test_modules_are_small_and_packages_say_what_they_own():
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "harness").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long
    for init in (ROOT / "harness").glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 40, f"{init} has no docstring saying what the package owns"


def test_models_hold_networks_only():
    for p in (ROOT / "models").glob("*.py"):
        assert "harness" not in p.read_text(), f"{p} imports the harness"


# ------------------------------------------------------------------ a toy metric and a toy kind,
# from this file

TOY = (
    """id = "toy-claim"
source = "test"
statement = "a toy metric judged by a toy kind"
kind = "exactly"
"""
    + TINY_SETTING.format(steps=20)
    + """batch = 8
eval_every = 10
n_eval = 32
chunk = 10
[eval]
n_test = 50
[grid]
"data.alpha" = [0.5, 0.8]
[metric]
name = "checkpoints"
[prediction]
value = {value}
[profiles.quick]
replicates = 2
[profiles.nightly]
replicates = 2
"""
)


@pytest.fixture()
def toy_registered():
    def rows(claim, rec):
        return [Row(dict(rec.train_point), float(len(rec.history.steps)))]

    def judge(claim, rs):
        want = claim.prediction["value"]
        ok = all(r.value == want for r in rs)
        est = Estimate("checkpoints", rs[0].value, rs[0].value, rs[0].value, 1.0, 0.0, len(rs))
        return make_verdict(
            claim,
            "CONFIRMED" if ok else "REFUTED",
            f"{rs[0].value:g} checkpoints",
            f"{len(rs)} runs",
            len(rs),
            2,
            est,
            p_refute=1.0 if ok else 0.0,
        )

    METRICS.register(
        "checkpoints",
        Metric("checkpoints", "number of checkpoints in the history", rows, per_point=False),
    )
    KINDS.register(
        "exactly",
        ClaimKind(
            "exactly",
            "every row equals the predicted value",
            {"value": float},
            ("value",),
            lambda c: f"{c.metric['name']} == {c.prediction['value']:g}",
            judge,
        ),
    )
    yield
    METRICS.unregister("checkpoints")
    KINDS.unregister("exactly")


@pytest.mark.slow
def test_a_toy_metric_and_kind_run_end_to_end(tmp_path, toy_registered):
    claims = tmp_path / "claims"
    write_claim(claims, "toy-claim", TOY.format(value=3.0))  # steps 0, 10, 20
    out = tmp_path / "out"
    rc = main(
        ["run", str(claims), "--results", str(tmp_path / "res"), "--out", str(out), "--no-progress"]
    )
    v = json.loads((out / "verdicts.json").read_text())["verdicts"][0]
    assert rc == 0 and v["verdict"] == "CONFIRMED" and v["prediction"] == "checkpoints == 3"
    assert v["estimate"]["value"] == 3.0 and v["predicted"] == {"value": 3.0}
    # the same models, judged against another value
    write_claim(claims, "toy-claim", TOY.format(value=4.0))
    assert (
        main(
            [
                "run",
                str(claims),
                "--results",
                str(tmp_path / "res"),
                "--out",
                str(tmp_path / "o2"),
                "--no-progress",
            ]
        )
        == 1
    )


def test_a_toy_kind_owns_its_validation(tmp_path, toy_registered, capsys):
    claims = tmp_path / "claims"
    write_claim(
        claims, "toy-claim", TOY.format(value=3.0).replace("value = 3.0", "value = 3.0\neps = 0.1")
    )
    assert main(["validate", str(claims)]) == 2
    err = capsys.readouterr().err
    assert "prediction.eps" in err and "kind 'exactly' does not read it" in err


def test_a_registry_takes_a_name_once_by_add_or_decorator():
    from types import SimpleNamespace

    from harness.core.registry import Registry

    reg: Registry = Registry("thing")
    item = reg.add(SimpleNamespace(name="a"))

    @reg.register("b")
    def b() -> int:
        return 2

    assert reg.get("a") is item and reg.get("b")() == 2 and reg.names() == ("a", "b")
    with pytest.raises(ValueError, match="already registered"):
        reg.add(SimpleNamespace(name="a"))
