"""The control beside every claim: declared or inherited, derived with the claim's seeds, judged
under the claim's prediction; a CONFIRMED whose control meets the prediction too is vacuous
(INCONCLUSIVE), in the terminal, report.md, verdicts.json and the pytest outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CLAIMS_DIR, TINY_SETTING, write_claim

from harness.claims.claim import point_config
from harness.claims.control import control_of, default_control, derive_control
from harness.claims.control_verdict import flat_result, floor_note, with_control
from harness.claims.errors import ClaimError
from harness.claims.grid import expand
from harness.claims.metrics import Row
from harness.claims.schema import load_claim
from harness.claims.verdict import ControlResult, Estimate, Verdict

# a threshold every model meets, trained or not: its control (the model at initialisation) meets it
VACUOUS = (
    """id = "{id}"
source = "test"
statement = "the error is at most 1"
kind = "threshold"
"""
    + TINY_SETTING.format(steps=30)
    + """batch = 16
eval_every = 10
n_eval = 64
chunk = 10
[eval]
n_test = 200
[metric]
name = "error_rate"
[prediction]
relation = "<="
threshold = 0.999
[profiles.quick]
replicates = 3
[profiles.nightly]
replicates = 3
"""
)


def _claim(tmp_path: Path, extra: str = "", name: str = "vac") -> Path:
    return write_claim(tmp_path / "claims", name, VACUOUS.format(id=name) + extra)


def test_every_claim_in_the_suite_has_a_control():
    for path in sorted(CLAIMS_DIR.glob("[!_]*.toml")):
        c = load_claim(path, "nightly")
        spec = control_of(c)
        assert spec.name and spec.why and spec.remedy, path
        assert spec.flat == (c.kind in ("trend", "rate")) or spec.declared, path


def test_defaults_by_kind_and_metric():
    prune = load_claim(CLAIMS_DIR / "prune-small.toml", "quick")
    assert default_control(prune).grid == {"prune.mode": ["random"]}
    assert default_control(load_claim(CLAIMS_DIR / "ood-length.toml", "quick")).flat
    init = default_control(load_claim(CLAIMS_DIR / "qk-direction.toml", "quick"))
    assert init.set == {"train.steps": 0}


def test_the_init_control_keeps_the_claims_seeds(tmp_path: Path):
    c = load_claim(_claim(tmp_path), "quick")
    d = derive_control(c)
    assert d is not None and d.grid["train.steps"] == [0]
    main, ctl = expand(c), expand(d)
    assert [u.run.seed for u in main] == [u.run.seed for u in ctl]
    assert point_config(d, {"train.steps": 0}).train.steps == 0
    assert c.base_run == d.base_run  # the claim's own setting is not touched


@pytest.mark.parametrize(
    "extra,key",
    [
        ('[control]\nname = "x"\nwhy = "y"\nsett = { "train.steps" = 0 }\n', "control.sett"),
        ('[control]\nname = "x"\nset = { "train.steps" = 0 }\n', "control.why"),
        ('[control]\nname = "x"\nwhy = "y"\n', "control"),
        ('[control]\nname = "x"\nwhy = "y"\nflat = true\nset = { "a.b" = 1 }\n', "control.flat"),
        (
            '[control]\nname = "x"\nwhy = "y"\ngrid = { "prune.mode" = ["random"] }\n',
            "control.grid",
        ),
        ('[control]\nname = "x"\nwhy = "y"\nset = { "train.stepz" = 0 }\n', "control.set"),
        ('[control]\nname = "x"\nwhy = "y"\nmetric = { nam = "x" }\n', "control.metric.nam"),
    ],
)
def test_a_bad_control_table_is_one_line_naming_file_and_key(tmp_path: Path, extra, key):
    with pytest.raises(ClaimError, match=rf"vac\.toml: {key}\b"):
        load_claim(_claim(tmp_path, extra), "quick")


def test_a_declared_control_is_read(tmp_path: Path):
    extra = (
        '[control]\nname = "short"\nwhy = "3 steps learn nothing"\n'
        'set = { "train.steps" = 3 }\nremedy = "a higher bar"\n'
    )
    spec = control_of(load_claim(_claim(tmp_path, extra), "quick"))
    assert (spec.name, spec.declared, spec.set) == ("short", True, {"train.steps": 3})


def _verdict(verdict: str) -> Verdict:
    est = Estimate("mean", 0.5, 0.4, 0.6, 0.95, 0.05, 3)
    return Verdict("c", "s", "t", "threshold", "quick", verdict, "p", "m", "o", 1, 3, estimate=est)


def _result(met: bool) -> ControlResult:
    return ControlResult(
        "init", "train.steps = 0", "why", "CONFIRMED" if met else "X", met, "m", "r"
    )


def test_a_confirmed_whose_control_meets_the_prediction_is_vacuous():
    v = with_control(_verdict("CONFIRMED"), _result(True))
    assert (v.verdict, v.vacuous) == ("INCONCLUSIVE", True)
    assert any(n.startswith("vacuous: the control init") for n in v.notes)
    kept = with_control(_verdict("CONFIRMED"), _result(False))
    assert (kept.verdict, kept.vacuous, kept.control.name) == ("CONFIRMED", False, "init")
    refuted = with_control(_verdict("REFUTED"), _result(True))
    assert (refuted.verdict, refuted.vacuous) == ("REFUTED", False)
    back = Verdict.from_json(json.loads(json.dumps(v.to_json())))
    assert back.control == v.control and back.vacuous


def _rows(values: dict[float, list[int]], n: int = 1000) -> list[Row]:
    return [
        Row({"x": x}, k / n, replicate=i, k=k, n=n)
        for x, ks in values.items()
        for i, k in enumerate(ks)
    ]


def test_the_flat_control_sees_a_metric_that_does_not_move():
    c = load_claim(CLAIMS_DIR / "ood-length.toml", "quick")
    spec = control_of(c)
    flat = flat_result(spec, _rows({1: [0, 0, 0], 2: [0, 0, 0], 4: [0, 0, 0]}))
    assert (flat.verdict, flat.met) == ("FLAT", True)
    moves = flat_result(spec, _rows({1: [300, 310, 290], 2: [100, 110, 90], 4: [5, 4, 6]}))
    assert (moves.verdict, moves.met) == ("MOVES", False)
    # 0 errors against 1 in 3000 prompts: within the resolution (about 1e-3), not a movement
    within = flat_result(spec, _rows({1: [0, 0, 0], 2: [0, 1, 0]}))
    assert (within.verdict, within.met) == ("FLAT", True)
    assert "at its floor" in floor_note(_rows({1: [0, 0], 2: [0, 0]}))
    assert floor_note(_rows({1: [0, 3], 2: [0, 0]})) == ""


@pytest.mark.slow
def test_a_vacuous_claim_end_to_end(tmp_path: Path, capsys):
    from harness.cli import main

    path = _claim(tmp_path)
    out = tmp_path / "run"
    rc = main(["run", str(path), "--results", str(tmp_path / "res"), "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "INCONCLUSIVE (vacuous)" in text and "init met" in text
    v = json.loads((out / "verdicts.json").read_text())["verdicts"][0]
    assert v["verdict"] == "INCONCLUSIVE" and v["vacuous"] is True
    assert v["control"]["name"] == "init" and v["control"]["verdict"] == "CONFIRMED"
    assert v["estimate"]["upper"] > v["estimate"]["lower"]
    md = (out / "report.md").read_text()
    assert "- control init: (default: train.steps = 0) CONFIRMED, meets the prediction too" in md
    assert "to make the experiment able to fail" in md
    assert "control init" in (out / "report.html").read_text()
