"""Terminal output fits: the compact verdict table, `iclcheck list` and one-line reasons stay within
the width."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.cli import main
from harness.report.terminal import clip, outcome_name, table, width


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=200), st.text(max_size=40), st.text(max_size=900)),
        max_size=8,
    ),
    st.integers(60, 240),
)
def test_every_line_fits_the_width(rows, cols):
    assert all(len(line) <= cols for line in table(rows, cols).splitlines())


def test_clip_is_one_line_and_marks_the_cut():
    assert clip("a\nb  c", 10) == "a b c"
    assert clip("x" * 50, 10) == "xxxxxxx..." and len(clip("x" * 50, 10)) == 10


def test_one_name_per_outcome():
    from harness.claims.verdict import Verdict

    v = Verdict("c", "s", "st", "bound", "quick", "REFUTED", "p", "m", "o", 1, 1)
    assert outcome_name(dataclasses.replace(v, expected=("REFUTED", "why"))) == "REFUTED (recorded)"
    assert outcome_name(dataclasses.replace(v, expected=("CONFIRMED", "why"))) == "REFUTED"


def test_width_reads_columns_at_call_time(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    assert width() == 120
    monkeypatch.setenv("COLUMNS", "20")
    assert width() == 60


@pytest.mark.parametrize("cols", [80, 100])
def test_list_fits_columns(monkeypatch, capsys, cols):
    monkeypatch.setenv("COLUMNS", str(cols))
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) > 10 and max(map(len, out)) <= cols


@pytest.mark.slow
def test_the_claims_suite_summary_fits_100_columns(tmp_path):
    """`tox -e claims` as run by CI (pytest claims -v -rA --iclcheck): with long claim ids, a
    recorded expectation and an INCONCLUSIVE verdict, every line of the claim-verdict section and of
    the SKIPPED / XFAIL / PASSED summary fits."""
    import os
    import subprocess
    import sys

    from test_run_resume import tiny

    expect = (
        '[expectation]\nverdict = "INCONCLUSIVE"\nreason = "'
        + "a long recorded reason " * 20
        + '"\n'
    )
    for name, extra in (
        ("a-rather-long-claim-identifier-for-width", ""),
        ("another-long-claim-identifier-b", expect),
    ):
        p = tiny(tmp_path, name, steps=20, reps=2, expectation=extra)
        p.write_text(p.read_text().replace('"data.S1" = [0.5, 1.0]', '"data.S1" = [1.0]'))
    env = {**os.environ, "COLUMNS": "100"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "claims",
            "-v",
            "-rA",
            "-p",
            "no:cacheprovider",
            "--iclcheck",
            "--iclcheck-results",
            str(tmp_path / "res"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    lines = r.stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if "claim verdicts" in ln)
    checked = [ln for ln in lines[start:] if ln.strip()]
    assert any(ln.startswith("XFAIL") for ln in checked) and any(
        ln.startswith("SKIPPED") for ln in checked
    ), r.stdout
    wide = [ln for ln in checked if len(ln) > 100]
    assert not wide, wide


def _refuted(cid: str = "deep-attn-concentration-long", p: float = 6.3e-11):
    from harness.claims.verdict import Estimate, Verdict

    return Verdict(
        cid,
        "s",
        "st",
        "threshold",
        "nightly",
        "REFUTED",
        "mean attn_mass_layer >= 0.8",
        "mean 0.3383",
        "o",
        1,
        8,
        p_refute=p,
        expected=("REFUTED", "known"),
        estimate=Estimate("mean", 0.3383, 0.3231, 0.3535, 0.95, 0.01, 8),
        predicted={"relation": ">=", "threshold": 0.8},
        plan_changes=[{"old_verdict": "REFUTED", "commit": "f141762abc", "what": "w", "why": "y"}],
    )


@pytest.mark.parametrize("robust", [False, True])
def test_a_replanned_refuted_claim_keeps_prediction_and_p_value_at_100_columns(robust):
    from harness.report.terminal import REPLANNED_LEGEND, verdict_table

    v = _refuted()
    labels = {v.claim_id: "CONTINGENT"} if robust else None
    lines = verdict_table([v], 100, robustness=labels).splitlines()
    row = next(ln for ln in lines if ln.startswith(v.claim_id))
    assert max(map(len, lines)) <= 100
    assert ">= 0.8" in row and "p=6.3e-11" in row and row.count("*") == 1
    assert lines[-1] == REPLANNED_LEGEND and "re-planned" not in row


def test_p_value_is_read_from_the_verdict_field_only_when_refuted():
    from harness.report.claim_report import summary_table
    from harness.report.terminal import p_sentence, p_text

    v = _refuted(p=0.0031)
    assert p_text(v) == "p=0.0031" and p_sentence(v) == "0.0031"
    assert "p=0.0031" in summary_table([v])
    other = dataclasses.replace(v, verdict="INCONCLUSIVE")
    assert p_text(other) == p_sentence(other) == "" and "p=" not in summary_table([other])


def test_the_prediction_is_short_for_rates():
    from harness.report.terminal import short_prediction

    assert short_prediction({"exponent": -2.0, "margin": 0.4}) == "b -2 ± 0.4"
    assert short_prediction({"limit": "lower", "exponent": -0.6667, "margin": 0.2}) == "b >= -0.867"
    assert (
        short_prediction({"exponent": -1.0, "margin": 0.2, "offset": True}) == "b -1 ± 0.2, offset"
    )


def test_the_summary_lines_after_the_table_fit_100_columns():
    from harness.session.multiverse import MultiverseTotals
    from harness.session.summary import fit

    t = MultiverseTotals(12345, 678, 104000, 110600, 73600.0, {"FRAGILE": 30, "CONTINGENT": 120})
    long = "  a-claim flipped by: " + ", ".join(
        f"alternative-{i} -> INCONCLUSIVE" for i in range(9)
    )
    lines = fit([t.line(), long, "", "x" * 30], 100)
    assert len(lines) >= 5 and max(map(len, lines)) <= 100 and "" in lines


def _subparsers():
    from harness.cli import build_parser

    parser = build_parser()
    return parser, parser._subparsers._group_actions[0].choices


def test_every_help_has_an_example_and_fits_100_columns(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "100")
    parser, commands = _subparsers()
    for name in [None, *commands]:
        with pytest.raises(SystemExit):
            parser.parse_args([*([name] if name else []), "--help"])
        out = capsys.readouterr().out
        assert "example" in out, name
        assert max(map(len, out.splitlines())) <= 100, name


def test_every_option_has_a_description_and_examples_name_existing_folders():
    from pathlib import Path

    _, commands = _subparsers()
    root = Path(__file__).resolve().parent.parent
    for name, sub in commands.items():
        assert [a.dest for a in sub._actions if not a.help] == [], name
        for line in sub.epilog.splitlines() if sub.epilog else []:
            for word in line.split():
                if word.startswith("results/reference/"):
                    assert (root / word).exists(), (name, word)
