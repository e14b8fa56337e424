"""Benchmark fixtures: the three sizes of issue 6 and a collector that prints one table at the end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from tabulate import tabulate

RESULTS = Path(__file__).resolve().parent.parent / "results" / "benchmarks"
ROWS: list[dict] = []
ALLOCATOR: dict[str, bool] = {}


def pytest_configure(config):
    # The benchmarks are an entry point: the runtime settings the CLI applies (harness.training.runtime), set before
    # anything runs so that the plain loop runs under the same allocator and the ratios measure the trainer, not malloc.
    from harness.training.allocator import keep_freed_memory
    from harness.training.runtime import RuntimeSettings

    RuntimeSettings.from_env(threads=int(os.environ.get("ICLCHECK_BENCH_THREADS", os.cpu_count() or 1))).apply()
    ALLOCATOR["kept"] = keep_freed_memory()  # cached: whether the tuning took


@pytest.fixture
def table():
    return ROWS


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not ROWS:
        return
    tr = terminalreporter
    tr.section("per-model training throughput (same run)")
    tr.write_line(tabulate(ROWS, headers="keys", tablefmt="github", floatfmt=".4g"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    from datetime import datetime, timezone

    import dataclasses

    from harness.run.provenance import provenance

    info = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(), "allocator_keeps_freed_memory": ALLOCATOR.get("kept"), **dataclasses.asdict(provenance("cpu")), "rows": ROWS}
    (RESULTS / "latest.json").write_text(json.dumps(info, indent=1))
    tr.write_line(f"written: {RESULTS / 'latest.json'}")
