"""Benchmark fixtures: three problem sizes (docs/speed.md) and a collector that prints one table at
the end.

The table goes to results/benchmarks/latest.json (untracked). The committed
results/benchmarks/reference.json changes only on purpose: with
`--iclcheck-refresh-reference` (or ICLCHECK_BENCH_REFRESH_REFERENCE=1), and only
after a complete, passing run of every benchmark. Both record the machine.
pytest-benchmark's own per-round statistics are saved under .benchmarks/ by
`--benchmark-autosave` (tox -e bench) and compared with `--benchmark-compare`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import torch
from tabulate import tabulate

REPO = Path(__file__).resolve().parent.parent
REFRESH_OPTION = "--iclcheck-refresh-reference"
REFRESH_ENV = "ICLCHECK_BENCH_REFRESH_REFERENCE"
ROWS: list[dict] = []
ALLOCATOR: dict[str, bool] = {}


def bench_device() -> torch.device:
    """$ICLCHECK_BENCH_DEVICE, default cpu (as step_batch.bench_device; this file is also copied
    alone by a test)."""
    return torch.device(os.environ.get("ICLCHECK_BENCH_DEVICE", "").strip() or "cpu")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        REFRESH_OPTION,
        action="store_true",
        default=False,
        help="write the committed results/benchmarks/reference.json (with the machine) instead of "
        "the untracked latest.json",
    )


def pytest_configure(config: pytest.Config) -> None:
    # The benchmarks are an entry point: the runtime settings the CLI applies
    # (harness.training.runtime), set before
    # anything runs so that the plain loop runs under the same allocator and the ratios measure the
    # trainer, not malloc.
    from harness.training.allocator import keep_freed_memory
    from harness.training.runtime import RuntimeSettings

    RuntimeSettings.from_env(
        threads=int(os.environ.get("ICLCHECK_BENCH_THREADS", os.cpu_count() or 1))
    ).apply(bench_device())
    ALLOCATOR["kept"] = keep_freed_memory()  # cached: whether the tuning took


def refresh_requested(config: pytest.Config) -> bool:
    """Whether this run is meant to rewrite the committed reference: the option, or the environment
    variable set to 1."""
    return bool(config.getoption(REFRESH_OPTION)) or os.environ.get(
        REFRESH_ENV, ""
    ).strip().lower() in ("1", "true", "yes")


def refresh_refusal(config: pytest.Config, exitstatus: int) -> str | None:
    """Why this run may not become the reference (a selection or a failure would leave rows out), or
    None."""
    if config.getoption("keyword") or config.getoption("markexpr"):
        return "a -k or -m selection ran only part of the benchmarks"
    if bench_device().type != "cpu":
        return f"a run on {bench_device()} does not replace the CPU reference"
    if exitstatus != 0:
        return f"the run did not pass (exit status {int(exitstatus)})"
    return None


@pytest.fixture
def table() -> list[dict]:
    return ROWS


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if not ROWS:
        return
    from harness.run.paths import bench_result_path, results_root
    from harness.run.provenance import machine, provenance

    tr = terminalreporter
    tr.section("per-model training throughput (same run)")
    tr.write_line(tabulate(ROWS, headers="keys", tablefmt="github", floatfmt=".4g"))
    refresh = refresh_requested(config)
    refusal = refresh_refusal(config, exitstatus) if refresh else None
    if refusal:
        tr.write_line(
            f"NOT refreshing the committed reference: {refusal}; writing the local table only"
        )
    path = bench_result_path(refresh and refusal is None, results_root(REPO))
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "allocator_keeps_freed_memory": ALLOCATOR.get("kept"),
        **dataclasses.asdict(provenance(bench_device())),
        "machine": machine(),
        "rows": ROWS,
    }
    path.write_text(json.dumps(info, indent=1))
    tr.write_line(f"written: {path}")
