"""Where the harness reads claim files and writes results by default.

Relative to the working directory (`claims/`, `results/`), never to the installed package: under tox
or `pip install` the package lives in site-packages, and a store, report or fuzz database written
beside it would be hidden from the user. `ICLCHECK_RESULTS` moves the results folder. The record
store (`store/`), the fuzzing layout under it (`fuzz/records`, `fuzz/db`, `fuzz/latest`) and the
committed references (`reference/fuzz`, `benchmarks/reference.json`) are named here too, so that
claim reports find the robustness report wherever the results folder is. Ordinary runs write to
untracked places; only a deliberate refresh rewrites a committed reference."""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

RESULTS_ENV = "ICLCHECK_RESULTS"


def results_root(base: Path = Path(".")) -> Path:
    """The results folder: $ICLCHECK_RESULTS, else results/ under `base` (the working directory by
    default)."""
    return Path(os.environ.get(RESULTS_ENV) or base / "results")


def store_root(results: Path | None = None) -> Path:
    """The claims' record store under a results folder: content-addressed (units/<key>.json), with
    quarantine/ for unusable records."""
    return (results_root() if results is None else Path(results)) / "store"


def fuzz_root(results: Path | None = None) -> Path:
    """The fuzzing folder (records/, db/, latest/) under a results folder (default:
    results_root())."""
    return (results_root() if results is None else Path(results)) / "fuzz"


def fuzz_latest_dir(results: Path | None = None) -> Path:
    """Where an ordinary `iclcheck fuzz` writes its robustness report (untracked, overwritten by the
    next run)."""
    return fuzz_root(results) / "latest"


def fuzz_reference_dir(results: Path | None = None) -> Path:
    """The committed robustness report, rewritten only by `iclcheck fuzz --refresh-reference`."""
    return (results_root() if results is None else Path(results)) / "reference" / "fuzz"


def report_created(folder: Path) -> datetime | None:
    """When the robustness report in `folder` was written (summary.json's `created`), or None if it
    has none."""
    try:
        created = json.loads((Path(folder) / "summary.json").read_text()).get("created")
        stamp = datetime.fromisoformat(created) if isinstance(created, str) else None
    except (OSError, ValueError, AttributeError):
        return None
    # naive: UTC
    return stamp.replace(tzinfo=UTC) if stamp is not None and stamp.tzinfo is None else stamp


def robustness_report_dir(results: Path | None = None) -> Path:
    """The robustness report that claim reports join: the local one (fuzz/latest) unless the
    committed reference is newer or the local one is missing or unreadable. Checkout times say
    nothing about a committed file, so the comparison reads each report's own `created` stamp."""
    latest, reference = fuzz_latest_dir(results), fuzz_reference_dir(results)
    t_latest, t_reference = report_created(latest), report_created(reference)
    if t_latest is None or (t_reference is not None and t_reference > t_latest):
        return reference
    return latest


def bench_result_path(refresh: bool, results: Path | None = None) -> Path:
    """The benchmark table's JSON: benchmarks/reference.json (committed) when refreshing it on
    purpose, else benchmarks/latest.json (untracked)."""
    return (
        (results_root() if results is None else Path(results))
        / "benchmarks"
        / ("reference.json" if refresh else "latest.json")
    )


def claims_dir() -> Path:
    """The default claim folder: ./claims."""
    return Path("claims")


def new_run_dir(results: Path, started: datetime, profile: str) -> Path:
    """A fresh report folder RESULTS/runs/<UTC time>-<profile>-<6 hex>, created here (exclusively),
    so two runs that start in the same second never share one; the time first keeps `sorted` in run
    order."""
    runs = Path(results) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    while True:
        d = runs / f"{started:%Y%m%dT%H%M%SZ}-{profile}-{secrets.token_hex(3)}"
        try:
            d.mkdir()
            return d
        except FileExistsError:
            continue
