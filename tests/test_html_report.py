"""The single-page HTML report: rendered from a run folder, checked in a real headless browser
(Debian's chromium).

The browser test opens the page, checks that every claim row and section rendered, that the images
decode, and that the console stayed silent, and saves a screenshot beside the report. In CI chromium
is installed by .ci/run, so a missing browser fails there instead of skipping."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.claims.verdicts import Verdict
from harness.report.claim_report import write_report
from harness.report.html import badge, outcome_history, read_page, render
from harness.report.run_folders import StoredVerdict


def _verdict(cid: str, verdict: str, expected: tuple[str, str] | None = None) -> Verdict:
    return Verdict(
        cid,
        "Theorem 3.3",
        "a statement",
        "bound",
        "quick",
        verdict,
        "error_rate (id) <= 0.05 at every point",
        "worst point 3/2000 errors = 0.0015, one-sided 95% CP upper 0.0039",
        "1 grid points",
        1,
        2,
        notes=["a <note> & more"],
        expected=expected,
    )


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    verdicts = [
        _verdict("alpha-claim", "CONFIRMED"),
        _verdict("beta-claim", "REFUTED", ("REFUTED", "recorded reason")),
        _verdict("gamma-claim", "INCONCLUSIVE"),
        _verdict("delta-claim", "ERROR"),
    ]
    earlier = tmp_path / "runs" / "20260101T000000Z-aaaa-quick"
    write_report(earlier, verdicts[:2], {"profile": "quick"}, robustness=None)
    out = tmp_path / "runs" / "20260102T000000Z-bbbb-quick"
    write_report(out, verdicts, {"profile": "quick"}, robustness=None)
    return out


def test_page_holds_every_claim_escaped_with_counts_and_history(run_dir: Path):
    text = (run_dir / "report.html").read_text()
    for cid in ("alpha-claim", "beta-claim", "gamma-claim", "delta-claim"):
        assert f'id="{cid}"' in text
    assert "a &lt;note&gt; &amp; more" in text and "<note>" not in text
    assert "1 CONFIRMED" in text and "1 REFUTED" in text and "REFUTED (recorded)" in text
    hist = outcome_history([run_dir.parent / "20260101T000000Z-aaaa-quick"])
    assert hist == {"alpha-claim": ["CONFIRMED"], "beta-claim": ["EXPECTED"]}
    assert text.count("<rect") == 2  # one earlier run, two claims present in it
    assert outcome_history([run_dir.parent / "20260101T000000Z-aaaa-quick"], "nightly") == {}
    data = json.loads((run_dir / "verdicts.json").read_text())
    assert data["schema_version"] == 2 and data["counts"] == {
        "CONFIRMED": 1,
        "REFUTED": 1,
        "INCONCLUSIVE": 1,
        "ERROR": 1,
    }


def test_badge_counts_and_colour(run_dir: Path):
    b = json.loads((run_dir / "badge.json").read_text())
    assert (
        b["schemaVersion"] == 1
        and b["message"] == "1 confirmed | 1 refuted | 1 inconclusive | 1 error"
    )
    assert b["color"] == "red"  # delta-claim is an unexpected ERROR
    stored = [
        {"claim_id": "a", "verdict": "CONFIRMED"},
        {"claim_id": "b", "verdict": "REFUTED", "expected": ["REFUTED", "r"]},
    ]
    base = {"prediction": "p", "measurement": "m", "over": "o"}
    ok = badge([StoredVerdict.from_json({**base, **v}) for v in stored])
    assert ok["color"] == "green"


def test_unreadable_run_is_named(tmp_path: Path):
    (tmp_path / "verdicts.json").write_text("{not json")
    with pytest.raises(ValueError, match="verdicts.json"):
        read_page(tmp_path)
    assert outcome_history([tmp_path]) == {}


def _chromium() -> str | None:
    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )


@pytest.mark.slow
def test_page_renders_in_headless_chromium(run_dir: Path, tmp_path: Path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail(
                "chromium is not installed: .ci/run installs Debian's chromium for this test"
            )
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    # a figure for one claim, embedded as base64
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    (run_dir / "plots").mkdir(exist_ok=True)
    fig.savefig(run_dir / "plots" / "alpha-claim.png")
    plt.close(fig)
    page = read_page(run_dir)
    first = dataclasses.replace(page.verdicts[0], figures=["plots/alpha-claim.png"])
    page = dataclasses.replace(page, verdicts=[first, *page.verdicts[1:]])
    html_path = run_dir / "report.html"
    html_path.write_text(render(page))
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        flags + ["--dump-dom", html_path.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-rendered="4"' in dom.stdout  # the script ran and counted every claim section
    assert len(re.findall(r"<tr data-claim=", dom.stdout)) == 4
    assert dom.stdout.count("data:image/png;base64,") == 1
    console = [ln for ln in dom.stderr.splitlines() if ":CONSOLE" in ln]
    assert not console, console
    shot = run_dir / "report-screenshot.png"
    r = subprocess.run(
        flags + [f"--screenshot={shot}", "--window-size=1280,1600", html_path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and shot.stat().st_size > 10_000, r.stderr[-2000:]
    keep = os.environ.get("ICLCHECK_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "report-screenshot.png")


def test_a_report_rebuilt_from_the_store_says_so(tmp_path: Path):
    meta = {
        "profile": "nightly",
        "seconds": 5.0,
        "models_trained": 0,
        "models_reused": 2206,
        "train_seconds_in_records": 2400.0,
    }
    text = write_report(
        tmp_path / "r", [_verdict("a", "CONFIRMED")], meta, robustness=None
    ).read_text()
    assert (
        "rebuilt from the store (nothing trained): 5 s to judge and report" in text
        and "wall time 5 s" not in text
    )
    text = write_report(
        tmp_path / "s", [_verdict("a", "CONFIRMED")], {**meta, "models_trained": 3}, robustness=None
    ).read_text()
    assert "wall time 5 s" in text


def test_page_names_the_models_a_claim_shares_with_other_claims(tmp_path: Path):
    v = _verdict("alpha-claim", "CONFIRMED")
    v.details["shared_models"] = {"shared": 3, "models": 6, "with": ["beta-claim", "gamma-claim"]}
    out = tmp_path / "run"
    write_report(
        out, [v, _verdict("beta-claim", "CONFIRMED")], {"profile": "quick"}, robustness=None
    )
    text = (out / "report.html").read_text()
    assert "shares 3 of its 6 models with: beta-claim, gamma-claim" in text
    assert text.count("shares ") == 1  # beta-claim shares nothing here
