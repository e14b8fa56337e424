"""compare and nightly: verdict flips and which are unexpected, drift z-scores for every kind,
old-format baselines, profile refusal and device warnings, corrupt baselines, the baseline 'latest',
and `iclcheck nightly` run twice end to end against a committed-style baseline with tiny claims."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import TINY_SETTING, write_claim

import harness.cli as cli
from harness.report.compare import (
    RunMismatchError,
    compare,
    history,
    terminal_rows,
    unexpected_flip,
)
from harness.report.run_folders import RunFolderError, latest_run

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "results" / "reference" / "nightly-cpu"
ESTIMATE_OF = {
    "rate": "exponent b",
    "bound": "error rate at the worst point",
    "comparison": "mean paired difference a - b",
    "trend": "Spearman rho",
    "threshold": "mean error_rate",
}


def verdict(
    cid: str,
    v: str = "CONFIRMED",
    kind: str = "threshold",
    value: float | None = 1.0,
    se: float = 0.1,
    expected: list | None = None,
) -> dict:
    est = (
        None
        if value is None
        else {
            "name": ESTIMATE_OF[kind],
            "value": value,
            "lower": value - 2 * se,
            "upper": value + 2 * se,
            "level": 0.95,
            "se": se,
            "n": 10,
        }
    )
    return {
        "claim_id": cid,
        "verdict": v,
        "kind": kind,
        "profile": "nightly",
        "prediction": "p",
        "measurement": "m",
        "over": "o",
        "details": {},
        "expected": expected,
        "estimate": est,
        "predicted": {},
    }


def write_run(
    folder: Path,
    verdicts: list[dict],
    profile: str = "nightly",
    device: str = "cpu:x86_64 x2 threads",
    started: str = "2026-01-01T00:00:00+00:00",
    old_format: bool = False,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if old_format:
        verdicts = [
            {k: x for k, x in v.items() if k not in ("estimate", "predicted")} for v in verdicts
        ]
    run = {
        "meta": {"profile": profile, "device": device, "git_commit": "abc", "started": started},
        "verdicts": verdicts,
    }
    if not old_format:
        run["schema_version"] = 2
    (folder / "verdicts.json").write_text(json.dumps(run))
    return folder


@pytest.mark.parametrize(
    "old,new,expected,unexpected",
    [
        ("CONFIRMED", "REFUTED", None, True),
        ("CONFIRMED", "ERROR", None, True),
        ("CONFIRMED", "INCONCLUSIVE", None, True),
        ("INCONCLUSIVE", "REFUTED", None, True),
        ("REFUTED", "ERROR", None, True),
        ("ERROR", "REFUTED", None, True),
        ("CONFIRMED", "REFUTED", ["REFUTED", "why"], False),
        ("CONFIRMED", "INCONCLUSIVE", ["INCONCLUSIVE", "why"], False),
        ("CONFIRMED", "REFUTED", ["INCONCLUSIVE", "why"], True),
        ("REFUTED", "CONFIRMED", None, False),
        ("INCONCLUSIVE", "CONFIRMED", None, False),
        ("REFUTED", "INCONCLUSIVE", None, False),
        ("REFUTED", "REFUTED", None, False),
    ],
)
def test_which_flips_are_unexpected(old, new, expected, unexpected):
    assert unexpected_flip(old, new, expected) is unexpected


@pytest.mark.parametrize("kind", sorted(ESTIMATE_OF))
def test_drift_is_a_z_score_for_every_kind(tmp_path, kind):
    base = write_run(
        tmp_path / "a",
        [verdict("moved", kind=kind, value=1.0), verdict("still", kind=kind, value=1.0)],
    )
    new = write_run(
        tmp_path / "b",
        [verdict("moved", kind=kind, value=1.5), verdict("still", kind=kind, value=1.2)],
    )
    cmp = compare(base, new)
    moved, still = cmp.claims
    assert (
        moved.z == pytest.approx(0.5 / math.hypot(0.1, 0.1))
        and moved.drift
        and moved.estimate == ESTIMATE_OF[kind]
    )
    assert still.z == pytest.approx(0.2 / math.hypot(0.1, 0.1)) and not still.drift
    assert [c.claim_id for c in cmp.drifts] == ["moved"] and not cmp.flips and not cmp.warnings
    assert not cmp.failed("flip") and cmp.failed("any-change") and not cmp.failed("never")
    assert not compare(base, new, threshold=4.0).drifts  # the threshold is configurable
    assert (
        "moved" in cmp.to_markdown()
        and "z=+3.5" in cmp.to_markdown()
        and "still" not in cmp.to_markdown()
    )


def test_flips_added_not_run_and_no_standard_error(tmp_path):
    base = write_run(
        tmp_path / "a",
        [
            verdict("down"),
            verdict("recorded"),
            verdict("up", "REFUTED"),
            verdict("gone"),
            verdict("no-se", se=math.nan),
        ],
    )
    new = write_run(
        tmp_path / "b",
        [
            verdict("down", "REFUTED"),
            verdict("recorded", "REFUTED", expected=["REFUTED", "known"]),
            verdict("up"),
            verdict("new"),
            verdict("no-se", value=9.0, se=math.nan),
        ],
    )
    cmp = compare(base, new)
    assert [c.claim_id for c in cmp.flips] == ["down", "recorded", "up"]
    assert [c.claim_id for c in cmp.unexpected_flips] == ["down"]
    assert cmp.added == ["new"] and cmp.not_run == ["gone"]
    no_se = next(c for c in cmp.claims if c.claim_id == "no-se")
    assert no_se.z is None and not no_se.drift and "no standard error" in no_se.note
    assert cmp.failed("flip") and not cmp.failed("never")
    data = json.loads(json.dumps(cmp.to_json(), allow_nan=False, default=str))
    assert data["unexpected_flips"] == ["down"] and data["counts"]["flips"] == 3
    assert "UNEXPECTED flip CONFIRMED -> REFUTED" in cmp.to_markdown()


def test_old_format_baseline_compares_verdicts_and_says_estimates_are_missing(tmp_path):
    """A baseline written before verdicts carried structured estimates (the committed reference,
    stripped of them as older runs were) still compares verdict by verdict, and says the drift check
    could not run."""
    data = json.loads((REFERENCE / "verdicts.json").read_text())
    for v in data["verdicts"]:
        v.pop("estimate", None)
    baseline = tmp_path / "old"
    baseline.mkdir()
    (baseline / "verdicts.json").write_text(json.dumps(data))
    old = data["verdicts"]
    new = [verdict(v["claim_id"], v["verdict"], value=1.0, expected=v.get("expected")) for v in old]
    new[0]["verdict"] = "ERROR" if old[0]["verdict"] != "ERROR" else "CONFIRMED"
    cmp = compare(baseline, write_run(tmp_path / "new", new, device="cuda:H200"))
    assert cmp.estimates_missing and not cmp.drifts
    assert any("estimates missing: the baseline predates" in w for w in cmp.warnings)
    assert any("device differs" in w for w in cmp.warnings)
    assert [c.claim_id for c in cmp.flips] == [old[0]["claim_id"]]


def test_profile_mismatch_is_refused_unless_allowed(tmp_path, capsys):
    a = write_run(tmp_path / "a", [verdict("c")], profile="quick")
    b = write_run(tmp_path / "b", [verdict("c")], profile="nightly")
    with pytest.raises(RunMismatchError):
        compare(a, b)
    assert cli.main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: profile mismatch") and str(a) in err and "\n" not in err
    assert cli.main(["compare", str(a), str(b), "--allow-mismatch"]) == 0
    assert "warning: profile mismatch" in capsys.readouterr().err


def test_device_mismatch_warns_loudly(tmp_path, capsys):
    a = write_run(tmp_path / "a", [verdict("c")], device="cpu:x86_64 x2 threads")
    b = write_run(tmp_path / "b", [verdict("c")], device="cuda:NVIDIA H200")
    assert cli.main(["compare", str(a), str(b), "--json", str(tmp_path / "c.json")]) == 0
    assert (
        "warning: device differs: baseline 'cpu:x86_64 x2 threads', new run 'cuda:NVIDIA H200'"
        in capsys.readouterr().err
    )
    assert "**warning:** device differs" in compare(a, b).to_markdown()
    assert json.loads((tmp_path / "c.json").read_text())["warnings"]


def test_compare_exit_codes_follow_fail_on(tmp_path):
    a = write_run(tmp_path / "a", [verdict("c"), verdict("d")])
    b = write_run(tmp_path / "b", [verdict("c", "REFUTED"), verdict("d", value=5.0)])
    assert cli.main(["compare", str(a), str(b)]) == 1
    assert cli.main(["compare", str(a), str(b), "--fail-on", "never"]) == 0
    c = write_run(tmp_path / "c", [verdict("c"), verdict("d", value=5.0)])  # drift only
    assert cli.main(["compare", str(a), str(c)]) == 0
    assert cli.main(["compare", str(a), str(c), "--fail-on", "any-change"]) == 1
    assert cli.main(["compare", str(a), str(c), "--drift-z", "0"]) == 2


def test_corrupt_baseline_is_named(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "verdicts.json").write_text('{"meta": {}, "verdicts": [')
    good = write_run(tmp_path / "good", [verdict("c")])
    with pytest.raises(RunFolderError, match="bad"):
        compare(bad, good)
    assert cli.main(["compare", str(bad), str(good)]) == 2
    assert str(bad / "verdicts.json") in capsys.readouterr().err
    monkeypatch.setattr(
        "harness.run.runner.run_claims",
        lambda *a, **k: pytest.fail("training started before the baseline was checked"),
    )
    claims = ROOT / "claims" / "ood-s1.toml"
    for baseline in (bad, tmp_path / "missing"):
        assert (
            cli.main(
                [
                    "nightly",
                    str(claims),
                    "--baseline",
                    str(baseline),
                    "--results",
                    str(tmp_path / "r"),
                    "--no-progress",
                ]
            )
            == 2
        )
        assert str(baseline) in capsys.readouterr().err
    quick = write_run(tmp_path / "quick", [verdict("c")], profile="quick")
    assert (
        cli.main(
            [
                "nightly",
                str(claims),
                "--baseline",
                str(quick),
                "--results",
                str(tmp_path / "r"),
                "--no-progress",
            ]
        )
        == 2
    )
    assert "profile mismatch" in capsys.readouterr().err


def test_latest_is_the_newest_readable_run_of_the_profile(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs / "1-old", [verdict("c")], started="2026-01-01T00:00:00+00:00")
    want = write_run(runs / "2-mid", [verdict("c")], started="2026-01-02T00:00:00+00:00")
    write_run(
        runs / "3-quick", [verdict("c")], profile="quick", started="2026-01-03T00:00:00+00:00"
    )
    (runs / "4-corrupt").mkdir()
    (runs / "4-corrupt" / "verdicts.json").write_text("not json")
    (runs / "5-killed").mkdir()  # a run killed before its report
    warnings: list[str] = []
    assert latest_run(runs, "nightly", warn=warnings.append) == want
    assert len(warnings) == 2 and any("4-corrupt" in w for w in warnings)
    assert latest_run(runs, "nightly", exclude=want) == runs / "1-old"
    assert latest_run(tmp_path / "nowhere", "nightly") is None


def test_history_uses_the_drift_rule(tmp_path):
    a = write_run(tmp_path / "1", [verdict("c", value=1.0), verdict("d")])
    b = write_run(tmp_path / "2", [verdict("c", value=2.0), verdict("d", "REFUTED")])
    out = history([a, b])
    assert "~CONFIRMED 2" in out and "*REFUTED" in out
    assert "~" not in history([a, b], threshold=10.0)


# ------------------------------------------------------------------ nightly, end to end, with tiny
# claims

TINY = (
    """id = "{id}"
source = "test"
statement = "tiny threshold claim"
kind = "threshold"
"""
    + TINY_SETTING.replace("{steps}", "20")
    + """batch = 16
eval_every = 10
n_eval = 64
chunk = 10
[eval]
n_test = 100
[grid]
"data.alpha" = [0.4, 0.8]
[metric]
name = "attn_gain"
[prediction]
relation = "{relation}"
threshold = {threshold}
[profiles.quick]
replicates = 2
[profiles.nightly]
replicates = 2
"""
)


@pytest.mark.slow
def test_nightly_twice_against_a_committed_style_baseline(tmp_path, monkeypatch, capsys):
    claims, results = tmp_path / "claims", tmp_path / "results"
    write_claim(claims, "keep", TINY.format(id="keep", relation="<=", threshold=2.0))
    write_claim(claims, "turns", TINY.format(id="turns", relation=">=", threshold=-1.0))
    common = [str(claims), "--results", str(results), "--no-progress"]
    reference = tmp_path / "reference"  # as committed: a run folder outside RESULTS/runs
    assert cli.main(["run", "--profile", "nightly", "--out", str(reference), *common]) == 0
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    capsys.readouterr()
    assert cli.main(["nightly", "--baseline", str(reference), *common]) == 0
    assert "0 models trained" in capsys.readouterr().out  # same code: every record reused
    (first,) = (results / "runs").iterdir()
    c1 = json.loads((first / "compare.json").read_text())
    assert (
        c1["baseline"]["path"] == str(reference)
        and c1["counts"]["flips"] == 0
        and c1["counts"]["drifts"] == 0
    )
    # the same records judged again: no drift at all
    assert all(c["z"] == 0.0 for c in c1["claims"])
    assert (first / "summary.md").exists() and "No verdict flips, no drifts." in summary.read_text()

    # an attention mass cannot gain 1.5 (its control, the untrained model, gains exactly 0 in
    # every seed: no interval, so it never meets a prediction and no verdict here is vacuous)
    write_claim(claims, "turns", TINY.format(id="turns", relation=">=", threshold=1.5))
    assert cli.main(["nightly", "--baseline", "latest", *common]) == 1
    (second,) = [d for d in (results / "runs").iterdir() if d != first]
    c2 = json.loads((second / "compare.json").read_text())
    assert Path(c2["baseline"]["path"]) == first
    assert c2["unexpected_flips"] == ["turns"] and c2["flips"] == ["turns"]
    turns = next(c for c in c2["claims"] if c["claim_id"] == "turns")
    assert (
        turns["baseline"] == "CONFIRMED"
        and turns["new"] in ("REFUTED", "INCONCLUSIVE")
        and turns["unexpected"]
    )
    assert "UNEXPECTED flip CONFIRMED -> " in (second / "summary.md").read_text()
    assert summary.read_text().count("## iclcheck") == 2 and "turns" in summary.read_text()
    out = capsys.readouterr().out
    assert "turns" in out and "1 flips (1 unexpected)" in out


def test_equal_estimates_are_equal_not_missing_a_standard_error(tmp_path):
    a = write_run(tmp_path / "a", [verdict("zero", value=0.0, se=0.0)])
    b = write_run(tmp_path / "b", [verdict("zero", value=0.0, se=0.0)])
    (c,) = compare(a, b).claims
    assert c.z == 0.0 and not c.drift and c.note == "equal"


def test_a_subset_run_reports_the_claims_it_did_not_run_in_one_line(tmp_path, capsys):
    ids = [f"claim-{i}" for i in range(6)]
    a = write_run(tmp_path / "a", [verdict(c) for c in ids])
    b = write_run(tmp_path / "b", [verdict(ids[0]), verdict(ids[1])])
    cmp = compare(a, b)
    assert cmp.not_run == ids[2:] and not cmp.failed("any-change")
    assert [row[0] for row in terminal_rows(cmp)] == ids[:2]
    assert cmp.counts()["claims"] == 2 and cmp.counts()["not_run"] == 4
    assert cli.main(["compare", str(a), str(b), "--fail-on", "any-change"]) == 0
    out = capsys.readouterr().out
    assert "4 claims of the baseline not run: claim-2, claim-3, claim-4, claim-5" in out
    assert "removed" not in out and "not run" not in "".join(r[2] for r in terminal_rows(cmp))
    assert "- 4 claims of the baseline not run" in cmp.to_markdown()
    many = write_run(tmp_path / "m", [verdict(f"a-long-claim-identifier-{i}") for i in range(9)])
    line = compare(many, write_run(tmp_path / "one", [verdict("a-long-claim-identifier-0")]))
    assert line.not_run_line(100) == "8 claims of the baseline not run (compare.json lists them)"


def test_equal_estimates_print_equal(tmp_path, capsys):
    a = write_run(tmp_path / "a", [verdict("zero", value=0.0, se=0.0)])
    b = write_run(tmp_path / "b", [verdict("zero", value=0.0, se=0.0)])
    assert cli.main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "equal" in out and "no standard error" not in out
