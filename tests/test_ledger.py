"""The pre-registration ledger: plan digests, [[changes]] entries, the validator's refusal, the
report's mark, `ledger`.

Claims and references live in temporary folders; the reference is a hand-written verdicts.json (no
git), except one test that commits a claim in a temporary git repository and lets the ledger rebuild
the old plan from it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import write_claim

from harness.claims import ledger
from harness.claims.analysis_plan import plan_digest, resolve_plan
from harness.claims.schema import ClaimError, load_claim, load_toml
from harness.claims.verdicts import Verdict, judge
from harness.cli import main
from harness.report import terminal
from harness.report.claim_report import write_report
from harness.report.run_folders import StoredVerdict

CLAIM = """id = "toy-margin"
source = "test"
statement = "{statement}"
kind = "comparison"

[grid]
"prune.mode" = ["small"]
"prune.fraction" = [0.0, 0.15]

[metric]
name = "error_rate"
domain = "id"
a = {{ "prune.fraction" = 0.15 }}
b = {{ "prune.fraction" = 0.0 }}

[prediction]
relation = "<="
margin = {margin}

[profiles.quick]
replicates = 2

[profiles.nightly]
replicates = 3
"""


def _plan(path: Path, profile: str = "nightly") -> dict:
    raw = load_toml(path)
    return resolve_plan(raw, load_toml(path.parent / "_base.toml"), profile)


def _reference(folder: Path, claim: Path, *, stored: bool = True, commit: str = "") -> Path:
    """A reference run holding one INCONCLUSIVE verdict of `claim` (its plan stored, or not, as
    before the ledger)."""
    plan = _plan(claim)
    v = {"claim_id": claim.stem, "verdict": "INCONCLUSIVE"}
    if stored:
        v.update(plan=plan, plan_digest=plan_digest(plan))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "verdicts.json").write_text(
        json.dumps({"meta": {"profile": "nightly", "git_commit": commit}, "verdicts": [v]})
    )
    return folder


def _change(old_plan: str) -> str:
    return f'''
[[changes]]
date = 2026-11-30
what = "margin 0.02 -> 0.05"
why = "the theorem's O(eps) term at eps = 0.05"
old_verdict = "INCONCLUSIVE"
old_plan = "{old_plan}"
commit = "abc1234"
'''


@pytest.fixture()
def moved(tmp_path: Path) -> tuple[Path, Path, str]:
    """A claim whose margin moved from 0.02 to 0.05 after the reference run: (claim, reference
    folder, old digest)."""
    claim = write_claim(tmp_path / "claims", "toy-margin", CLAIM.format(statement="s", margin=0.02))
    ref = _reference(tmp_path / "ref", claim)
    old = plan_digest(_plan(claim))
    claim.write_text(CLAIM.format(statement="s", margin=0.05))
    return claim, ref, old


def test_digest_ignores_key_order_and_prose_but_not_the_margin(tmp_path: Path):
    a = write_claim(
        tmp_path / "a", "toy-margin", CLAIM.format(statement="one statement", margin=0.02)
    )
    text = CLAIM.format(statement="a quite different statement", margin=0.02)
    metric = (
        '[metric]\nname = "error_rate"\ndomain = "id"\na = { "prune.fraction" = 0.15 }\nb = { '
        '"prune.fraction" = 0.0 }\n'
    )
    reordered = text.replace(
        metric,
        '[metric]\nb = { "prune.fraction" = 0.0 }\ndomain = "id"\na = { "prune.fraction" = 0.15 }\n'
        'name = "error_rate"\n',
    )
    assert reordered != text
    b = write_claim(tmp_path / "b", "toy-margin", reordered)
    c = write_claim(
        tmp_path / "c", "toy-margin", CLAIM.format(statement="one statement", margin=0.03)
    )
    d = write_claim(
        tmp_path / "d", "toy-margin", CLAIM.format(statement="s", margin=0.02) + _change("abcdef")
    )
    assert (
        plan_digest(_plan(a))
        == plan_digest(_plan(b))
        == plan_digest(_plan(d))
        != plan_digest(_plan(c))
    )
    assert plan_digest(_plan(a, "quick")) != plan_digest(_plan(a, "nightly"))  # replicates 2 vs 3
    assert len(plan_digest(_plan(a))) == 12 and load_claim(a, "nightly").plan == _plan(a)


def test_a_changed_margin_without_an_entry_is_refused_in_one_line(moved, capsys):
    claim, ref, old = moved
    assert main(["validate", str(claim.parent), "--reference", str(ref)]) == 2
    err = capsys.readouterr().err.strip()
    new = plan_digest(_plan(claim))
    assert err == (
        f"error: {claim}: prediction.margin: plan changed since the reference run (plan {old} -> "
        f"{new}) "
        f"with no [[changes]] entry for old_plan {old}"
    )
    with pytest.raises(ClaimError, match="prediction.margin"):
        ledger.enforce([claim], ref)


def test_the_check_runs_before_any_run_and_follows_the_environment(
    moved, monkeypatch, tmp_path: Path, capsys
):
    claim, ref, _ = moved
    monkeypatch.setenv(ledger.REFERENCE_ENV, str(ref))
    assert (
        main(["run", str(claim.parent), "--results", str(tmp_path / "res"), "--no-progress"]) == 2
    )
    assert "prediction.margin: plan changed" in capsys.readouterr().err
    monkeypatch.setenv(ledger.REFERENCE_ENV, "none")
    assert main(["validate", str(claim.parent)]) == 0


def test_a_logged_change_passes_and_a_wrong_old_plan_does_not(moved, capsys):
    claim, ref, old = moved
    claim.write_text(CLAIM.format(statement="s", margin=0.05) + _change("0123456789ab"))
    assert main(["validate", str(claim.parent), "--reference", str(ref)]) == 2
    # a prefix is enough
    claim.write_text(CLAIM.format(statement="s", margin=0.05) + _change(old[:8]))
    assert main(["validate", str(claim.parent), "--reference", str(ref)]) == 0
    assert load_claim(claim).changes[0] == {
        "date": "2026-11-30",
        "what": "margin 0.02 -> 0.05",
        "commit": "abc1234",
        "why": "the theorem's O(eps) term at eps = 0.05",
        "old_verdict": "INCONCLUSIVE",
        "old_plan": old[:8],
    }


@pytest.mark.parametrize(
    "entry, key",
    [
        ('date = "30 Nov"', "changes[1].date"),
        ('old_verdict = "MAYBE"', "changes[1].old_verdict"),
        ('old_plan = "xyz"', "changes[1].old_plan"),
        ('reason = "typo"', "changes[1].reason"),
        ("why = 3", "changes[1].why"),
    ],
)
def test_malformed_entries_are_named(tmp_path: Path, entry: str, key: str):
    good = _change("abcdef")
    field = entry.split(" = ")[0]
    lines = [ln for ln in good.splitlines() if not ln.startswith(f"{field} =")] + [entry]
    claim = write_claim(
        tmp_path / "claims",
        "toy-margin",
        CLAIM.format(statement="s", margin=0.02) + "\n".join(lines) + "\n",
    )
    with pytest.raises(ClaimError) as exc:
        load_claim(claim)
    msg = str(exc.value)
    assert msg.startswith(f"{claim}: {key}: ") and "\n" not in msg


def test_new_claims_and_a_missing_reference_pass(tmp_path: Path):
    claim = write_claim(tmp_path / "claims", "toy-margin", CLAIM.format(statement="s", margin=0.02))
    # <claims>/../results/reference/... is absent
    assert ledger.audit([claim]).statuses[0].note == "no reference run"
    other = _reference(
        tmp_path / "ref",
        write_claim(
            tmp_path / "x",
            "other-claim",
            CLAIM.format(statement="s", margin=0.1).replace("toy-margin", "other-claim"),
        ),
    )
    result = ledger.enforce([claim], other)
    assert result.statuses[0].note == "new since the reference" and not result.unlogged


def test_verdicts_record_their_plan_and_the_report_marks_a_replanned_claim(moved, tmp_path: Path):
    claim, _, old = moved
    claim.write_text(CLAIM.format(statement="s", margin=0.05) + _change(old))
    c = load_claim(claim, "nightly")
    v = judge(c, [])  # no records: ERROR, still stamped with its plan
    assert v.plan_digest == plan_digest(c.plan) and v.plan == c.plan and v.plan_changes == c.changes
    out = tmp_path / "run"
    write_report(out, [v], {"profile": "nightly"}, robustness=None)
    stored = json.loads((out / "verdicts.json").read_text())["verdicts"][0]
    assert stored["plan_digest"] == v.plan_digest and stored["plan_changes"][0]["old_plan"] == old
    mark = "re-planned after INCONCLUSIVE at commit abc1234"
    md = (out / "report.md").read_text()
    assert mark in md and "the theorem's O(eps) term" in md and f"`{v.plan_digest}`" in md
    assert mark in (out / "report.html").read_text()
    table = terminal.verdict_table([v], 200)
    assert f"ERROR{terminal.REPLANNED_TAG}" in table and terminal.REPLANNED_LEGEND in table
    assert terminal.outcome_cell(StoredVerdict.from_json(stored)).endswith(terminal.REPLANNED_TAG)
    plain = Verdict("x", "s", "st", "bound", "quick", "CONFIRMED", "p", "m", "o", 1, 1)
    assert "re-planned" not in terminal.verdict_table([plain], 200)


def test_ledger_lists_logged_and_unlogged_changes(moved, capsys):
    claim, ref, old = moved
    assert main(["ledger", str(claim.parent), "--reference", str(ref)]) == 1
    out = capsys.readouterr().out
    assert (
        "UNLOGGED" in out
        and f"error: {claim}: prediction.margin: plan changed" in out
        and "1 UNLOGGED" in out
    )
    claim.write_text(CLAIM.format(statement="s", margin=0.05) + _change(old))
    assert main(["ledger", str(claim.parent), "--reference", str(ref)]) == 0
    out = capsys.readouterr().out
    assert (
        "changed, logged" in out
        and "re-planned after INCONCLUSIVE at commit abc1234 (2026-11-30): margin 0.02 -> 0.05"
        in out
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_old_plan_comes_from_git_when_the_reference_did_not_store_it(tmp_path: Path, capsys):
    repo = tmp_path / "repo"
    claim = write_claim(repo / "claims", "toy-margin", CLAIM.format(statement="s", margin=0.02))

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "claim")
    ref = _reference(
        repo / "results" / "reference" / "nightly-cpu",
        claim,
        stored=False,
        commit=git("rev-parse", "HEAD"),
    )
    claim.write_text(
        CLAIM.format(statement="reworded", margin=0.02).replace("replicates = 3", "replicates = 5")
    )
    with pytest.raises(
        ClaimError, match=r"toy-margin.toml: profiles.nightly.replicates: plan changed"
    ):
        ledger.enforce([claim])  # the default reference: <claims>/../results/reference/nightly-cpu
    # a commit git does not have: warn once, skip
    _reference(ref, claim, stored=False, commit="0" * 40)
    warnings: list[str] = []
    assert not ledger.enforce([claim], warn=warnings.append).unlogged
    assert len(warnings) == 1 and "git cannot read commit 000000000000" in warnings[0]


# --- the world a claim runs in is part of its plan (plan version 2) ---------------------------

WORLD_EDITS = {
    # (what is edited, the key the one-line refusal names)
    "claim-setting": ("[setting.data]\nbeta = 3.0\n", "setting.data.beta"),
    "profile-setting": ("[profiles.nightly.setting.model]\nm = 32\n", "setting.model.m"),
    "eval": ("[eval]\nn_test = 500\n", "eval.n_test"),
}


def _with(text: str, extra: str) -> str:
    """The claim text with a TOML fragment added at the top level (before its profile tables when
    the fragment is a top-level table, so it does not land inside one)."""
    if extra.startswith("[profiles."):
        return text + "\n" + extra
    head, sep, tail = text.partition("[profiles.quick]")
    return head + extra + "\n" + sep + tail


@pytest.mark.parametrize("edit", sorted(WORLD_EDITS))
def test_a_changed_setting_or_eval_value_is_refused_unless_logged(
    edit: str, tmp_path: Path, capsys, monkeypatch
):
    fragment, key = WORLD_EDITS[edit]
    text = CLAIM.format(statement="s", margin=0.02)
    claim = write_claim(tmp_path / "claims", "toy-margin", text)
    ref = _reference(tmp_path / "ref", claim)
    old = plan_digest(_plan(claim))
    claim.write_text(_with(text, fragment))
    assert main(["validate", str(claim.parent), "--reference", str(ref)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "toy-margin.toml: " in err and key in err, err
    monkeypatch.setenv(ledger.REFERENCE_ENV, str(ref))
    res = str(tmp_path / "res")
    assert main(["run", str(claim.parent), "--results", res, "--no-progress"]) == 2
    assert key in capsys.readouterr().err
    claim.write_text(_with(text, fragment) + _change(old))
    assert main(["validate", str(claim.parent), "--reference", str(ref)]) == 0


def test_a_changed_base_value_is_refused_in_the_base_file_and_one_base_entry_covers_it(
    tmp_path: Path, capsys, monkeypatch
):
    folder = tmp_path / "claims"
    one = write_claim(folder, "toy-margin", CLAIM.format(statement="s", margin=0.02))
    two = write_claim(
        folder,
        "toy-other",
        CLAIM.replace("toy-margin", "toy-other").format(statement="s", margin=0.03),
    )
    plans = {p.stem: _plan(p) for p in (one, two)}
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "verdicts.json").write_text(
        json.dumps(
            {
                "meta": {"profile": "nightly", "git_commit": ""},
                "verdicts": [
                    {
                        "claim_id": k,
                        "verdict": "INCONCLUSIVE",
                        "plan": p,
                        "plan_digest": plan_digest(p),
                    }
                    for k, p in plans.items()
                ],
            }
        )
    )
    base = folder / "_base.toml"
    old_base = plans["toy-margin"]["base"]
    base.write_text(base.read_text().replace("m = 64 ", "m = 32 "))
    assert main(["validate", str(folder), "--reference", str(tmp_path / "ref")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {base}: setting.model.m: changed since the reference run"), err
    assert "re-planning 2 claims" in err and f"old_plan {old_base}" in err
    monkeypatch.setenv(ledger.REFERENCE_ENV, str(tmp_path / "ref"))
    assert main(["run", str(folder), "--results", str(tmp_path / "res"), "--no-progress"]) == 2
    assert "setting.model.m" in capsys.readouterr().err
    base.write_text(
        base.read_text() + _change(old_base).replace("margin 0.02 -> 0.05", "m 64 -> 32")
    )
    assert main(["validate", str(folder), "--reference", str(tmp_path / "ref")]) == 0
    assert main(["ledger", str(folder), "--reference", str(tmp_path / "ref")]) == 0
    out = capsys.readouterr().out
    assert "re-plan 2 claim(s): toy-margin, toy-other" in out


def test_a_version_one_reference_is_compared_on_its_analysis_keys_and_says_so(
    tmp_path: Path, capsys
):
    from harness.claims.analysis_plan import legacy_plan

    text = CLAIM.format(statement="s", margin=0.02)
    claim = write_claim(tmp_path / "claims", "toy-margin", text)
    old = legacy_plan(_plan(claim))
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "verdicts.json").write_text(
        json.dumps(
            {
                "meta": {"profile": "nightly", "git_commit": ""},
                "verdicts": [
                    {
                        "claim_id": "toy-margin",
                        "verdict": "INCONCLUSIVE",
                        "plan": old,
                        "plan_digest": plan_digest(old),
                    }
                ],
            }
        )
    )
    claim.write_text(_with(text, "[setting.data]\nbeta = 3.0\n"))
    assert main(["validate", str(claim.parent), "--reference", str(tmp_path / "ref")]) == 0
    assert "plan version 1" in capsys.readouterr().err
