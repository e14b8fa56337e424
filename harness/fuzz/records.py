"""Fuzz records: one typed FuzzRecord per fuzzed configuration, kept in the same Store as claim
records.

Filed under ROOT/records/<key>.json (ROOT: results/fuzz), written atomically with a key and
checksum, and read back through the store's checks: an unusable file goes to ROOT/quarantine/ with
one warning line instead of being skipped silently. `run_from_record` rebuilds the exact run from a
record."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.fields import check_version, expect, expect_fields, from_fields
from harness.fuzz.profiles import DEFAULT_ROOT, resolve_root
from harness.run.store import Store
from harness.world.config import RunConfig

FUZZ_SCHEMA_VERSION = 2  # 1: untyped dicts (blake2b keys, no checksum); 2: FuzzRecord
NAMESPACE = "records"


@dataclass
class FuzzRecord:
    """One fuzzed configuration as stored: its run, assumption report, per-domain results and
    verdicts."""

    key: str
    source: str
    profile: str
    created: str
    seed: int
    data: dict[str, Any]
    run: RunConfig
    assumptions: dict[str, Any]
    result: dict[str, dict[str, Any]]  # domain -> errors, n, rate, CP bounds, eps, verdict
    broke: list[str]
    unexplained: dict[str, list[str]]
    failed: bool
    seconds: float
    meta: dict[str, Any]
    schema_version: int = FUZZ_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["run"] = self.run.to_dict()
        return d

    @classmethod
    def from_json(cls, data: Any) -> FuzzRecord:
        check_version(data, "FuzzRecord", FUZZ_SCHEMA_VERSION)
        rec = from_fields(
            cls, data, {"run": lambda d: RunConfig.from_dict(expect(d, dict, "FuzzRecord.run"))}
        )
        expect_fields(
            rec,
            {"key": str, "source": str, "seed": int, "result": dict, "broke": list, "failed": bool},
            "FuzzRecord",
        )
        return rec


def fuzz_store(root: Path | str = DEFAULT_ROOT, log: Callable[[str], None] | None = None) -> Store:
    """The store of fuzz records under a fuzz folder (records/, quarantine/)."""
    return Store(resolve_root(root), log)


def write_record(record: FuzzRecord, root: Path | str = DEFAULT_ROOT) -> Path:
    """One JSON file per example under ROOT/records/, written atomically with its key and
    checksum."""
    return fuzz_store(root).write(NAMESPACE, record)


def read_records(
    root: Path | str = DEFAULT_ROOT,
    source: str | None = None,
    log: Callable[[str], None] | None = None,
) -> list[FuzzRecord]:
    """Every usable stored record (optionally of one source), by name; unusable files are
    quarantined."""
    store = fuzz_store(root, log)
    out = [store.read_path(p, FuzzRecord.from_json) for p in store.paths(NAMESPACE)]
    return [r for r in out if r is not None and (source is None or r.source == source)]


def run_from_record(record: FuzzRecord) -> RunConfig:
    """The exact RunConfig of a record (to replay it)."""
    return record.run
