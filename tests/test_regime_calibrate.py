"""Regimes (a setting over every claim) and the calibration search that writes one."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.calibrate.regime_file import write_regime
from harness.calibrate.search import candidates, run_stage
from harness.calibrate.space import load_calibration
from harness.claims.errors import ClaimError
from harness.claims.regime import RegimePart, apply_regime, load_regimes, regime_named
from harness.claims.schema import load_claim
from harness.loading import load_claims

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def claims(tmp_path, monkeypatch):
    """A claims folder with the base file and two claims, as cwd."""
    d = tmp_path / "claims"
    d.mkdir()
    for name in ("_base.toml", "_multiverse.toml", "fig-prune-ood.toml", "deep-ood-s1.toml"):
        shutil.copy(REPO / "claims" / name, d / name)
    monkeypatch.chdir(tmp_path)
    return d


REGIMES = """
[regime.test]
why = "a test"
[[regime.test.part]]
applies_to = ["arch:paper"]
set = { "data.beta" = 2.0, "prune.fraction" = 0.5 }
[[regime.test.part]]
applies_to = ["arch:deep"]
set = { "train.steps" = 99, "data.S1" = 3.0 }
"""


def test_regime_overrides_setting_but_not_grid_axes(claims):
    (claims / "_regimes.toml").write_text(REGIMES.replace(', "prune.fraction" = 0.5', ""))
    one, deep = (
        load_claim(claims / f, "quick") for f in ("fig-prune-ood.toml", "deep-ood-s1.toml")
    )
    r = regime_named(claims, "test")
    a, b = apply_regime(one, r), apply_regime(deep, r)
    assert a.base_run["data"]["beta"] == 2.0 and a.regime == "test"
    assert a.base_run["train"]["steps"] == one.base_run["train"]["steps"]  # arch:deep only
    assert b.base_run["train"]["steps"] == 99  # over the claim's own steps = 1500
    assert b.grid["data.S1"] == deep.grid["data.S1"]  # the claim's grid axis stays its own
    assert b.base_run["data"]["beta"] == deep.base_run["data"]["beta"]  # arch:paper only
    loaded = load_claims([claims], "quick", regime="test")
    assert {c.regime for c in loaded} == {"test"}
    assert {c.regime for c in load_claims([claims], "quick")} == {"default"}


def test_a_reading_the_regime_overrides_says_so(claims):
    """A report must not name the claim file's reading for a value the run did not use."""
    (claims / "_regimes.toml").write_text(
        REGIMES.replace('"data.beta" = 2.0', '"data.ood_spread" = "all"').replace(
            ', "prune.fraction" = 0.5', ""
        )
    )
    one = load_claim(claims / "fig-prune-ood.toml", "quick")
    a = apply_regime(one, regime_named(claims, "test"))
    assert a.base_run["data"]["ood_spread"] == "all"
    assert a.readings["ood_spread"].startswith("'all', set by regime test")
    assert one.readings["ood_spread"] in a.readings["ood_spread"]  # the file's reading kept
    assert a.readings["test_sampling"] == one.readings["test_sampling"]  # not overridden


def test_bad_regimes_are_one_line_naming_file_and_key(claims):
    with pytest.raises(ClaimError, match=r"_regimes.toml: regime.nope: unknown regime"):
        regime_named(claims, "nope")
    (claims / "_regimes.toml").write_text(REGIMES)
    with pytest.raises(ClaimError, match=r"regime.test.part\[0\].set.prune.fraction"):
        load_regimes(claims)
    (claims / "_regimes.toml").write_text(REGIMES.replace("why", "wy"))
    with pytest.raises(ClaimError, match=r"regime.test.wy: unknown key"):
        load_regimes(claims)
    (claims / "_regimes.toml").write_text(
        REGIMES.replace(', "prune.fraction" = 0.5', "").replace("99", "-5")
    )
    with pytest.raises(ClaimError, match=r"deep-ood-s1.toml: regime test"):
        load_claims([claims], "quick", regime="test")


def test_cli_refuses_an_unknown_regime_before_training(claims):
    p = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--regime", "nope", "--no-progress"],
        capture_output=True,
        text=True,
        cwd=claims.parent,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 2
    assert "regime.nope: unknown regime" in p.stderr and len(p.stderr.splitlines()) == 1


SPEC = """
[calibration]
regime = "fit"
seed = 7
[[stage]]
name = "s"
claims = ["fig-prune-ood"]
applies_to = ["arch:paper"]
method = "random"
budget = 6
rungs = [2, 4]
keep = 0.34
[stage.space]
"data.beta" = [1.0, 2.0, 3.0]
"model.m" = [8, 16, 64]
"""


def test_candidates_are_distinct_and_reproducible(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(SPEC)
    spec = load_calibration(f)
    a, b = candidates(spec, spec.stages[0]), candidates(spec, spec.stages[0])
    assert a == b and len(a) == 6 and len({tuple(s.items()) for s in a}) == 6
    f.write_text(SPEC.replace('method = "random"', 'method = "grid"'))
    assert len(candidates(load_calibration(f), load_calibration(f).stages[0])) == 9


@pytest.mark.parametrize(
    "edit, key",
    [
        (("rungs = [2, 4]", "rungs = [4, 2]"), "stage[0].rungs"),
        (('"model.m"', '"model.mm"'), "stage[0].space.model.mm"),
        (("seed = 7", "sed = 7"), "calibration.sed"),
        (("keep = 0.34", "keep = 1.5"), "stage[0].keep"),
    ],
)
def test_bad_calibration_files_name_the_key(tmp_path, edit, key):
    f = tmp_path / "c.toml"
    f.write_text(SPEC.replace(*edit))
    with pytest.raises(ClaimError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_calibration(f)


def test_halving_keeps_the_best_and_logs_every_trial(claims, tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(SPEC)
    spec = load_calibration(f)
    claim = load_claim(claims / "fig-prune-ood.toml", "quick")
    seen = []

    def fake_run(cs):  # score: distance of (beta, m) from (2, 16), no training
        c = cs[0]
        beta, m = c.base_run["data"].get("beta", 1.0), c.base_run["model"].get("m", 64)
        seen.append((beta, m, c.replicates))
        s = abs(beta - 2.0) + abs(math.log(m / 16))
        v = SimpleNamespace(claim_id=c.id, verdict="INCONCLUSIVE", notes=[], details={"score": s})
        return [v], 1

    result = run_stage(spec, spec.stages[0], [claim], fake_run, log=lambda _: None)
    first = [t for t in result.trials if t.rung == 0]
    second = [t for t in result.trials if t.rung == 1]
    assert len(first) == 6 and len(second) == 3  # ceil(0.34 * 6)
    assert {t.replicates for t in second} == {4}
    best = min(first, key=lambda t: t.score)
    assert result.winner == best.setting and result.score == best.score


def test_written_regime_loads_back_with_its_change_entry(claims):
    path = write_regime(
        claims,
        "fit",
        "a test",
        [RegimePart({"data.beta": 2.0}, ("arch:paper",))],
        "log.json",
        0.25,
        "abc123",
    )
    r = load_regimes(claims)["fit"]
    assert r.parts[0].set == {"data.beta": 2.0} and r.score == 0.25
    assert r.changes[0]["commit"] == "abc123" and "none" in r.changes[0]["old"][0]
    write_regime(claims, "fit", "again", [RegimePart({"data.beta": 3.0})], "log2.json", 0.2, "def")
    r = load_regimes(claims)["fit"]
    assert (
        len(r.changes) == 2 and "data.beta = 2.0" in r.changes[1]["old"][0]
    )  # the old values recorded
    assert path.name == "_regimes.toml"


def test_a_change_to_the_calibration_file_says_why(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(SPEC + '\n[[changes]]\ndate = 2026-12-04\nwhat = "budget 6 -> 8"\n')
    with pytest.raises(ClaimError, match=r"changes\[0\].why: missing"):
        load_calibration(f)
    f.write_text(SPEC + '\n[[changes]]\ndate = 2026-12-04\nwhat = "w"\nwhy = "y"\n')
    assert load_calibration(f).changes[0]["why"] == "y"
    f.write_text(SPEC + "\n[extra]\na = 1\n")
    with pytest.raises(ClaimError, match=r"extra: unknown table"):
        load_calibration(f)


def test_the_report_header_names_a_regime_other_than_the_files_own():
    from types import SimpleNamespace

    from harness.report.claim_report import _regime_line

    assert _regime_line([SimpleNamespace(regime="default")]) == []
    (line,) = _regime_line([SimpleNamespace(regime="paper"), SimpleNamespace(regime="default")])
    assert line.startswith("- regime `paper`")
