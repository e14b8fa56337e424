"""The multiverse: declaration and narrowing validated (one line, file and key), claims derived
under an alternative (override applied, grid-axis conflicts and invalid configurations skipped with
a reason), the ROBUST / FRAGILE / CONTINGENT / PARTIAL labels, and `iclcheck run --multiverse` end
to end on a tiny claim (table, figure, verdicts.json block)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import CLAIMS_DIR, write_claim
from test_run_resume import TINY  # the tiny trend claim (OOD error against S1 over two alphas)

from harness import cli
from harness.claims.errors import ClaimError
from harness.claims.multiverse import Alternative, load_alternatives, load_narrowing
from harness.claims.multiverse_derive import (
    CONTINGENT,
    FRAGILE,
    NO_MULTIVERSE,
    PARTIAL,
    ROBUST,
    derive,
    robustness,
)
from harness.claims.schema import load_claim

MULTIVERSE = """
[[alternative]]
name = "beta-2"
set = { "data.beta" = 2.0 }
why = "pattern norm not recovered"

[[alternative]]
name = "alpha-half"
set = { "data.alpha" = 0.5 }
why = "varied by the grid: skipped"

[[alternative]]
name = "steps-2x"
steps_scale = 2
why = "budget"

[[alternative]]
name = "unit-norm"
set = { "data.ood_coef_mode" = "unit_norm" }
why = "the other OOD reading"
applies_to = ["domain:ood"]

[[alternative]]
name = "no-metric"
metric = "no_such_metric"
why = "a metric not registered here"

[[alternative]]
name = "K-small"
set = { "data.K" = 0.25 }
why = "narrowed away by the claim file"
"""


def _tiny(tmp_path: Path, extra: str = "") -> Path:
    return write_claim(
        tmp_path / "claims", "tiny", TINY.format(id="tiny", steps=30, reps=2) + extra
    )


def _mv(tmp_path: Path, text: str = MULTIVERSE) -> Path:
    p = tmp_path / "claims" / "_multiverse.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_the_shipped_multiverse_file_is_valid():
    names = [a.name for a in load_alternatives(CLAIMS_DIR / "_multiverse.toml")]
    assert {"beta-2", "beta-3", "steps-3x", "fit-lower-half", "metric-hinge"} <= set(names)


@pytest.mark.parametrize(
    "text, key",
    [
        ('[[alternative]]\nname = "a"\nset = { "data.beta" = 2.0 }\n', "alternative.a.why"),
        ('[[alternative]]\nname = "a"\nwhy = "w"\n', "alternative.a: changes nothing"),
        (
            '[[alternative]]\nname = "a"\nwhy = "w"\nset = { "data.betta" = 2.0 }\n',
            "alternative.a.set.data.betta",
        ),
        (
            '[[alternative]]\nname = "a"\nwhy = "w"\nset = { "data.beta" = "two" }\n',
            "alternative.a.set.data.beta",
        ),
        (
            '[[alternative]]\nname = "a"\nwhy = "w"\nfit_range = "middle"\n',
            "alternative.a.fit_range",
        ),
        ('[[alternative]]\nname = "a"\nwhy = "w"\nsteps_scale = 0\n', "alternative.a.steps_scale"),
        ('[[alternative]]\nname = "a"\nwhy = "w"\nsteps_scale = 2\nfoo = 1\n', "alternative.a.foo"),
        (
            '[[alternative]]\nname = "a"\nwhy = "w"\nsteps_scale = 2\n[[alternative]]\nname = '
            '"a"\nwhy = "w"\nsteps_scale = 3\n',
            "alternative.a.name: declared twice",
        ),
    ],
)
def test_declaration_errors_name_file_and_key(tmp_path, text, key):
    p = _mv(tmp_path, text)
    with pytest.raises(ClaimError) as e:
        load_alternatives(p)
    assert str(e.value).startswith(f"{p}: {key}") and "\n" not in str(e.value)


def test_narrowing_unknown_name_and_missing_reason(tmp_path):
    names = [a.name for a in load_alternatives(_mv(tmp_path))]
    ok = _tiny(tmp_path, '[multiverse]\nskip = { "K-small" = "K is fixed by the tiny world" }\n')
    assert load_narrowing(ok, names) == {"K-small": "K is fixed by the tiny world"}
    assert load_claim(ok, "quick").id == "tiny"  # the schema accepts the table
    bad = _tiny(tmp_path, '[multiverse]\nskip = { "beta-22" = "typo" }\n')
    with pytest.raises(
        ClaimError,
        match=r"tiny.toml: multiverse.skip.beta-22: unknown alternative \(did you mean 'beta-2'",
    ):
        load_narrowing(bad, names)
    bad = _tiny(tmp_path, '[multiverse]\nskip = { "beta-2" = " " }\n')
    with pytest.raises(ClaimError, match=r"multiverse.skip.beta-2: needs a reason"):
        load_narrowing(bad, names)
    bad = _tiny(tmp_path, '[multiverse]\nskip = ["beta-2"]\n')
    with pytest.raises(ClaimError, match=r"multiverse.skip: must be a table"):
        load_narrowing(bad, names)


def test_derivation_applies_overrides_and_skips_with_reasons(tmp_path):
    c = load_claim(_tiny(tmp_path), "quick")
    alts = {a.name: a for a in load_alternatives(_mv(tmp_path))}
    v = derive(c, alts["beta-2"])
    assert (
        v.claim is not None
        and v.claim.base_run["data"]["beta"] == 2.0
        and c.base_run["data"].get("beta") != 2.0
    )
    assert v.claim.id == c.id and v.claim.grid == c.grid  # same id: the main setting's seeds
    v = derive(c, alts["steps-2x"])
    assert v.claim.base_run["train"]["steps"] == 60
    v = derive(c, alts["alpha-half"])
    assert v.claim is None and "varies data.alpha in its grid" in v.skipped
    v = derive(c, alts["no-metric"])
    assert v.claim is None and "'no_such_metric' is not registered" in v.skipped
    v = derive(c, alts["K-small"], {"K-small": "fixed here"})
    assert v.claim is None and v.skipped == "skipped by the claim file: fixed here"
    # M1 = 4, M1_ood = 3: groups of one pattern, invalid under unit_norm
    v = derive(c, alts["unit-norm"])
    assert v.claim is None and v.skipped.startswith(
        "the configuration is invalid under it: S1 must be"
    )
    v = derive(c, Alternative("b", "w", applies_to=("rate",), fit_range="lower_half"))
    assert v.claim is None and "applies to rate only" in v.skipped


def test_fit_range_halves_a_rate_grid():
    c = load_claim(CLAIMS_DIR / "iters-alpha.toml", "nightly")
    lower = derive(c, Alternative("l", "w", fit_range="lower_half")).claim
    upper = derive(c, Alternative("u", "w", fit_range="upper_half")).claim
    xs = c.grid["data.alpha"]
    assert lower.grid["data.alpha"] == xs[:6] and upper.grid["data.alpha"] == xs[-6:]


@pytest.mark.parametrize(
    "main, alts, label, flips",
    [
        ("CONFIRMED", [("a", "CONFIRMED"), ("b", "CONFIRMED")], ROBUST, []),
        ("INCONCLUSIVE", [("a", "INCONCLUSIVE")], ROBUST, []),
        ("REFUTED", [("a", "REFUTED"), ("b", "CONFIRMED"), ("c", "ERROR")], FRAGILE, ["b"]),
        ("INCONCLUSIVE", [("a", "REFUTED")], CONTINGENT, ["a"]),
        ("CONFIRMED", [("a", "INCONCLUSIVE"), ("b", "ERROR"), ("c", "CONFIRMED")], PARTIAL, []),
        ("CONFIRMED", [], NO_MULTIVERSE, []),
    ],
)
def test_labels_on_synthetic_verdicts(main, alts, label, flips):
    lab = robustness(main, alts)
    assert (lab.label, lab.flips) == (label, flips)


@pytest.mark.slow
def test_run_multiverse_end_to_end(tmp_path, capsys):
    claim = _tiny(tmp_path, '[multiverse]\nskip = { "K-small" = "K is fixed by the tiny world" }\n')
    _mv(tmp_path)
    out = tmp_path / "run"
    rc = cli.main(
        [
            "run",
            str(claim),
            "--multiverse",
            "--results",
            str(tmp_path / "r"),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert rc in (0, 1)
    printed = capsys.readouterr().out
    assert "robustness" in printed and "multiverse:" in printed
    v = json.loads((out / "verdicts.json").read_text())["verdicts"][0]
    block = v["multiverse"]
    assert v["robustness"] == block["label"] in (ROBUST, FRAGILE, CONTINGENT, PARTIAL)
    rows = {r["name"]: r for r in block["alternatives"]}
    assert (
        rows["beta-2"]["status"] == rows["steps-2x"]["status"] == "ran"
        and rows["beta-2"]["verdict"]
    )
    assert rows["alpha-half"]["status"] == "skipped" and "grid" in rows["alpha-half"]["skipped"]
    assert rows["K-small"]["skipped"].startswith("skipped by the claim file")
    assert "Holm within each claim's multiverse" in block["correction"]
    assert (out / "plots" / "tiny-multiverse.png").is_file() and "plots/tiny-multiverse.png" in v[
        "figures"
    ]
    md = (out / "report.md").read_text()
    assert "#### Multiverse" in md and "| `alpha-half` |" in md and "robustness" in md
    assert "Multiverse" in (out / "report.html").read_text()


def test_unknown_alternative_in_a_claim_file_exits_2_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("harness.run.runner.run_claims", lambda *a, **k: pytest.fail("trained"))
    claim = _tiny(tmp_path, '[multiverse]\nskip = { "nope" = "x" }\n')
    _mv(tmp_path)
    assert cli.main(["run", str(claim), "--multiverse", "--results", str(tmp_path / "r")]) == 2
    assert "multiverse.skip.nope: unknown alternative" in capsys.readouterr().err


def test_validate_checks_the_narrowing_and_only_selects(tmp_path, capsys, monkeypatch):
    claim = _tiny(tmp_path, '[multiverse]\nskip = { "beta-2" = "" }\n')
    _mv(tmp_path)
    assert cli.main(["validate", str(claim)]) == 2
    assert "tiny.toml: multiverse.skip.beta-2: needs a reason" in capsys.readouterr().err
    claim = _tiny(tmp_path)
    monkeypatch.setattr("harness.run.runner.run_claims", lambda *a, **k: pytest.fail("trained"))
    assert (
        cli.main(
            [
                "run",
                str(claim),
                "--multiverse",
                "--multiverse-only",
                "beta-3",
                "--results",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert (
        "--multiverse-only: unknown alternative 'beta-3' (did you mean 'beta-2'?)"
        in capsys.readouterr().err
    )


def _verdict(verdict: str, value: float, p: float = 1.0):
    from harness.claims.verdict import Estimate, Verdict

    return Verdict(
        "c",
        "s",
        "st",
        "threshold",
        "quick",
        verdict,
        "mean attn_mass >= 0.9",
        f"mean {value}",
        "over",
        1,
        3,
        p_refute=p,
        estimate=Estimate("mean", value, value - 0.02, value + 0.02, 0.95, 0.01, 3),
        predicted={"relation": ">=", "threshold": 0.9},
    )


def test_block_names_the_flips_and_holm_runs_within_the_claim(tmp_path):
    from harness.claims.multiverse_derive import Variant
    from harness.claims.verdicts import family_control
    from harness.report.multiverse_section import section_lines, specification_curve
    from harness.run.multiverse_run import multiverse_block

    alts = [
        Alternative("beta-2", "w", set={"data.beta": 2.0}),
        Alternative("beta-3", "w", set={"data.beta": 3.0}),
        Alternative("eta-0.5", "w", set={"train.eta": 0.5}),
        Alternative("x", "w", steps_scale=2),
    ]
    judged = {
        "beta-2": _verdict("REFUTED", 0.88, 0.03),
        "beta-3": _verdict("CONFIRMED", 0.95),
        "eta-0.5": _verdict("REFUTED", 0.80, 0.001),
    }
    # 3 alternatives: 0.03 -> 0.06 does not survive, 0.001 -> 0.003 does
    judged = dict(zip(judged, family_control(list(judged.values()), "holm")))
    assert judged["beta-2"].verdict == "INCONCLUSIVE" and judged["eta-0.5"].verdict == "REFUTED"
    variants = [Variant(a, object()) for a in alts[:3]] + [
        Variant(alts[3], None, "the claim varies train.steps in its grid")
    ]
    block = multiverse_block(_verdict("REFUTED", 0.85, 0.01), variants, judged)
    assert (
        block["label"] == FRAGILE
        and block["flips"] == ["beta-3"]
        and block["undecided"] == ["beta-2"]
    )
    assert block["alternatives"][3] | {"why": ""} == {
        "name": "x",
        "change": "steps x 2",
        "why": "",
        "status": "skipped",
        "skipped": "the claim varies train.steps in its grid",
        "verdict": None,
        "measurement": "",
        "estimate": None,
    }
    md = "\n".join(section_lines("c", block, "plots/c-multiverse.png"))
    assert "flips the verdict: `beta-3` (data.beta = 3.0): CONFIRMED, mean 0.95" in md
    assert specification_curve("c", block, tmp_path / "c.png").is_file()


def test_run_multiverse_finds_the_runner_at_call_time(monkeypatch):
    """One patch of harness.run.runner.run_claims must reach the multiverse's variants too (a
    name bound at import kept a fake across tests, ddf90d1)."""
    from types import SimpleNamespace

    from harness.claims.multiverse_derive import Variant
    from harness.run.multiverse_run import run_multiverse

    seen = []

    def fake(claims, *a, **k):
        seen.append((len(claims), k["family"]))
        return [SimpleNamespace(claim=c, verdict=_verdict("CONFIRMED", 0.95)) for c in claims]

    monkeypatch.setattr("harness.run.runner.run_claims", fake)
    variants = {"c": [Variant(Alternative("beta-2", "w", set={"data.beta": 2.0}), object())]}
    blocks, alt_runs = run_multiverse([], variants, "unused", executor=None)
    assert seen == [(1, "none")] and len(alt_runs) == 1 and blocks == {}


def test_terminal_tables_show_the_robustness_column():
    from harness.report.terminal import stored_table, verdict_table

    v = _verdict("REFUTED", 0.85, 0.01)
    assert "robustness" not in verdict_table([v], cols=100)
    lines = verdict_table([v], cols=100, robustness={"c": FRAGILE}).splitlines()
    assert lines[0].split()[:4] == ["claim", "verdict", "control", "robustness"]
    assert "FRAGILE" in lines[2]
    assert all(len(x) <= 100 for x in lines)
    from harness.report.run_folders import StoredVerdict

    def stored(cid, verdict, **kw):
        d = {
            "claim_id": cid,
            "verdict": verdict,
            "measurement": "m",
            "prediction": "p",
            "over": "o",
        }
        return StoredVerdict.from_json(d, **kw)

    assert "robustness" not in stored_table([stored("c", "CONFIRMED")], cols=80)
    c = stored("c", "CONFIRMED", multiverse={"label": ROBUST}, robustness=ROBUST)
    assert "ROBUST" in stored_table([c, stored("d", "ERROR")], cols=80)


@pytest.mark.slow
def test_pytest_plugin_runs_the_multiverse_and_labels_each_claim_test(tmp_path):
    """`pytest claims --iclcheck --iclcheck-multiverse`: the claim test keeps its own outcome,
    carries its label in the terminal summary, and the run report holds the multiverse table; a bad
    alternative name fails the claim tests with the one-line message, before anything trains."""
    from test_run_resume import _pytest

    _tiny(tmp_path, '[multiverse]\nskip = { "K-small" = "K is fixed by the tiny world" }\n')
    _mv(tmp_path)
    res = [
        "--iclcheck",
        "--iclcheck-results",
        str(tmp_path / "res"),
        "-rA",
        "--iclcheck-multiverse",
    ]
    r = _pytest(tmp_path, *res, "--iclcheck-multiverse-only", "beta-2,steps-2x")
    out = r.stdout + r.stderr
    assert "multiverse:" in out and "2 alternative runs" in out, out
    # the verdict table's robustness column
    assert re.search(rf"tiny\s.*\b({ROBUST}|{FRAGILE}|{CONTINGENT}|{PARTIAL})\b", out), out
    (report,) = (tmp_path / "res" / "runs").glob("*/report.md")
    md = report.read_text()
    assert "#### Multiverse" in md and "| `beta-2` |" in md and "| `alpha-half` |" not in md
    r = _pytest(tmp_path, *res, "--iclcheck-multiverse-only", "beta-3", "--iclcheck-no-report")
    out = r.stdout + r.stderr
    assert "1 failed" in out and "--multiverse-only: unknown alternative 'beta-3'" in out, out


def _row(text: str, name: str) -> dict[str, str]:
    """A row of the multiverse plan table, by column."""
    cols = ("claims", "skip", "train", "steps", "measure", "reuse", "estimate")
    line = next(x for x in text.splitlines() if x.split() and x.split()[0] == name)
    return dict(zip(cols, line.split()[1:]))


SPREAD_ONE = """
[[alternative]]
name = "spread-one"
set = { "data.ood_spread" = "one" }
why = "an OOD reading: only the test prompts change"
applies_to = ["domain:ood"]
"""


def test_dry_run_plans_the_multiverse_and_the_run_trains_what_it_said(tmp_path, capsys):
    claim = _tiny(tmp_path, '[multiverse]\nskip = { "K-small" = "K is fixed by the tiny world" }\n')
    _mv(tmp_path, MULTIVERSE + SPREAD_ONE)
    res = str(tmp_path / "r")
    dry = ["run", str(claim), "--multiverse", "--results", res, "--dry-run"]
    assert cli.main(dry) == 0
    out = capsys.readouterr().out
    assert all(len(line) <= 100 for line in out.splitlines())
    assert re.search(r"multiverse: \d+ claim variants under 7 alternatives", out)
    beta, unit = _row(out, "beta-2"), _row(out, "spread-one")
    assert beta["train"] == "4" and beta["estimate"] == "?"  # 2 alphas x 2 seeds (S1: OOD only)
    assert unit["train"] == "0" and int(unit["measure"]) > 0  # an OOD reading: main run's models
    assert _row(out, "alpha-half")["claims"] == "0"
    assert not list((tmp_path / "r").rglob("*.json"))  # nothing trained, nothing written

    main = ["run", str(claim), "--results", res, "--no-progress", "--out", str(tmp_path / "o")]
    assert cli.main(main) in (0, 1)
    capsys.readouterr()
    assert cli.main(dry) == 0
    out = capsys.readouterr().out
    unit = _row(out, "spread-one")
    assert unit["train"] == "0" and re.fullmatch(r"\d+:\d\d", unit["estimate"])
    assert "estimate: about" in out and "costliest:" in out
    # the run does what the plan said: the OOD reading measures the stored models, trains nothing
    only = main + ["--multiverse", "--multiverse-only", "spread-one"]
    assert cli.main(only) in (0, 1)
    assert "multiverse cost: 0 models trained" in capsys.readouterr().out
    only = main + ["--multiverse", "--multiverse-only", "beta-2"]
    assert cli.main(only) in (0, 1)
    assert f"multiverse cost: {beta['train']} models trained" in capsys.readouterr().out


def test_the_multiverse_plan_counts_a_model_once_as_execute_trains_it():
    """A train key that some units need with a curve and others without trains one member per
    curve reading (the curve-less units ride on it), so it counts once, not once per key kind."""
    from types import SimpleNamespace as U

    from harness.run.multiverse_plan_text import trainings

    def unit(train, curve=""):
        return U(train_key=train, curve_key=curve, reads_curve=bool(curve), run=(train, curve))

    mixed = [unit("a"), unit("a", "a-iid"), unit("a")]
    assert trainings(mixed) == [("a", "a-iid")]
    assert trainings([unit("b"), unit("b")]) == [("b", "")]
    two_readings = [unit("c", "c-iid"), unit("c", "c-ood"), unit("c")]
    assert trainings(two_readings) == [("c", "c-iid"), ("c", "c-ood")]
