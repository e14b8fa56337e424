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
