"""SIGKILL in the middle of a report write leaves the previous whole report or the new whole report,
never half of one: report.md and verdicts.json are written to a temporary file and renamed into
place (store.atomic_write_text)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

WRITER = """
import sys
from harness.claims.verdicts import Verdict
from harness.report.claim_report import write_report

out, i = sys.argv[1], 0
notes = ["x" * 1000] * 2000  # ~2 MB per file: most of the loop's time is spent writing
while True:
    v = Verdict(
        "c", "s", "st", "bound", "quick", "CONFIRMED", "p", "m", "o", 1, 1,
        notes=notes + [f"END {i}"],
    )
    write_report(out, [v], {"profile": "quick"}, robustness=None)
    print(i, flush=True)
    i += 1
"""


def _complete(run: Path) -> None:
    report = (run / "report.md").read_text()
    assert report.rstrip("\n").splitlines()[-1].startswith("- note: END "), "report.md is cut short"
    v = json.loads((run / "verdicts.json").read_text())  # raises on a truncated file
    assert v["verdicts"][0]["notes"][-1].startswith("END ")
    assert (run / "report.html").read_text().endswith("</html>"), "report.html is cut short"
    json.loads((run / "badge.json").read_text())


def kill_mid_write(script: str, folder: Path, whole: int) -> None:
    """Run a writer loop in a subprocess, wait until it reports `whole` finished writes, then
    SIGKILL it inside a later one (each write takes tens of milliseconds)."""
    tests = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": f"{tests.parent}{os.pathsep}{tests}"}
    p = subprocess.Popen(
        [sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        for _ in range(whole):
            assert p.stdout.readline().strip().isdigit()
        time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == -signal.SIGKILL


def test_sigkill_during_report_writes_leaves_whole_reports(tmp_path):
    run = tmp_path / "run"
    kill_mid_write(WRITER, run, whole=1)
    _complete(run)
    # what a kill can leave besides the whole files is a hidden temporary, never a report under the
    # real name
    assert {f.name for f in run.iterdir() if not f.name.startswith(".")} == {
        "report.md",
        "verdicts.json",
        "report.html",
        "badge.json",
        "plots",
    }


RECORD_WRITER = """
import sys
from conftest import make_record
from harness.measure.measurement import Measurement
from harness.run.store import Store

store, i = Store(sys.argv[1]), 0
meas = [Measurement({"data.l_ts": j}, 1000, j, j, 0.5, 0.5) for j in range(4000)]
# ~0.5 MB per record
while True:
    store.write("c", make_record(key=f"k{i % 3}", replicate=i, measurements=meas))
    print(i, flush=True)
    i += 1
"""


def test_sigkill_during_record_writes_loses_nothing_written_and_leaves_no_half_record(tmp_path):
    """A record is written to a temporary file and renamed: a kill mid-write leaves every record
    whole, and the store reads each back without quarantining anything."""
    from harness.claims.record import Record
    from harness.run.store import QUARANTINE, Store

    # three whole records exist, then a kill inside a rewrite
    kill_mid_write(RECORD_WRITER, tmp_path, whole=3)
    warnings: list[str] = []
    store = Store(tmp_path, warnings.append)
    names = sorted(f.name for f in (tmp_path / "c").iterdir() if not f.name.startswith("."))
    assert names == ["k0.json", "k1.json", "k2.json"]
    for k in ("k0", "k1", "k2"):
        rec = store.read("c", k, Record.from_json)
        assert rec is not None and len(rec.measurements) == 4000
    assert not warnings and not (tmp_path / QUARANTINE).exists()


def test_reports_are_written_with_the_usual_file_mode(tmp_path):
    import os
    import stat

    from harness.core import jsonio
    from harness.core.jsonio import atomic_write_text

    atomic_write_text(tmp_path / "report.md", "# report\n")
    mode = stat.S_IMODE((tmp_path / "report.md").stat().st_mode)
    assert mode == 0o666 & ~jsonio.UMASK and mode & stat.S_IROTH == (~jsonio.UMASK & stat.S_IROTH)
    assert os.access(tmp_path / "report.md", os.R_OK)
