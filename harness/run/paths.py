"""Where the harness reads claim files and writes results by default.

Relative to the working directory (`claims/`, `results/`), never to the installed
package: under tox or `pip install` the package lives in site-packages, and a
store, report or fuzz database written beside it would be hidden from the user.
`ICLCHECK_RESULTS` moves the results folder. The record store (`store/`) and the fuzzing layout under it
(`fuzz/records`, `fuzz/db`, `fuzz/report`) is named here too, so that claim
reports find the robustness report wherever the results folder is.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path

RESULTS_ENV = "ICLCHECK_RESULTS"


def results_root(base: Path = Path(".")) -> Path:
    """The results folder: $ICLCHECK_RESULTS, else results/ under `base` (the working directory by default)."""
    return Path(os.environ.get(RESULTS_ENV) or base / "results")


def store_root(results: Path | None = None) -> Path:
    """The claims' record store (one folder per claim id, quarantine/ for unusable records) under a results folder."""
    return (results_root() if results is None else Path(results)) / "store"


def fuzz_root(results: Path | None = None) -> Path:
    """The fuzzing folder (records/, db/, report/) under a results folder (default: results_root())."""
    return (results_root() if results is None else Path(results)) / "fuzz"


def robustness_report_dir(results: Path | None = None) -> Path:
    """Where `tox -e fuzz` writes the robustness report that claim reports join."""
    return fuzz_root(results) / "report"


def claims_dir() -> Path:
    """The default claim folder: ./claims."""
    return Path("claims")


def new_run_dir(results: Path, started: datetime, profile: str) -> Path:
    """A fresh report folder RESULTS/runs/<UTC time>-<profile>-<6 hex>, created here (exclusively), so two runs
    that start in the same second never share one; the time first keeps `sorted` in run order."""
    runs = Path(results) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    while True:
        d = runs / f"{started:%Y%m%dT%H%M%SZ}-{profile}-{secrets.token_hex(3)}"
        try:
            d.mkdir()
            return d
        except FileExistsError:
            continue
