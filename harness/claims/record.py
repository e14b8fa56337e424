"""The stored record of one unit (one trained model measured at every eval point), typed and
versioned.

Written by harness.run.execution, kept by harness.run.store, read by the claims' metrics and
verdicts and by the reports. `to_json` / `from_json` are its only serial form; `from_json` refuses
(RecordError) a record of another schema version, one with a missing or unknown field, or a value of
the wrong type. Bump SCHEMA_VERSION when a change alters what a stored record holds or means."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from harness.core.fields import RecordError, check_version, expect, expect_fields, from_fields
from harness.measure.measurement import Measurement, Probes
from harness.training.trainer import History
from harness.world.config import RunConfig
from harness.world.mixtures import WorldStructure

# 1-2: untyped dicts keyed by ENGINE_VERSION; 3: this dataclass, keys with device and code
# fingerprint;
SCHEMA_VERSION = 6
#                    4: Probes.row_norms (the W_O row norms, for the histogram figure);
# 5: Measurement.hinge_* (hinge loss per eval point), History.qk (query/key projection probe)


@dataclass
class Timing:
    """Seconds spent on the unit's ensemble (shared by its members) and how it was trained."""

    train_seconds_ensemble: float
    eval_seconds_ensemble: float
    ensemble_size: int
    compiled: bool = False

    @property
    def train_seconds_per_model(self) -> float:
        return self.train_seconds_ensemble / self.ensemble_size


@dataclass
class Provenance:
    """What produced a record: package versions, git commit, device name."""

    versions: dict[str, str]
    git_commit: str
    device: str


def _history(data: Any) -> History:
    return from_fields(History, data)


def _run_config(data: Any) -> RunConfig:
    expect(data, dict, "Record.config")
    return RunConfig.from_dict(data)


@dataclass
class Record:
    """One unit's result: what was trained (config, seeds), its training history and its
    measurements.

    `key` is the unit key the store files it under; `identity` is that key without the code
    fingerprint (what --reuse-stale looks records up by); `fingerprint` and `device_kind` name the
    code and device that produced it. A record may serve several claims (harness.run.plan): as
    stored, `claim`, `train_point` and `replicate` name the first claim that asked for it;
    `harness.run.plan.claim_record` gives each claim its own view."""

    key: str
    identity: str
    fingerprint: str
    device_kind: str
    claim: str
    train_point: dict[str, Any]
    replicate: int
    seed: int
    seeds: dict[str, int]
    config: RunConfig
    eval_points: list[dict[str, Any]]
    eval: dict[str, Any]
    history: History
    failed: bool
    failed_at: int | None
    measurements: list[Measurement]
    probes: Probes
    provenance: Provenance
    timing: Timing
    # what the seed's world drew (training tasks, shifts, mixture levels); None in a hand-built one
    world: WorldStructure | None = None
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["config"] = self.config.to_dict()
        return d

    @classmethod
    def from_json(cls, data: Any) -> Record:
        """The record in `data`, checked: schema version, every field, nested types."""
        check_version(data, "Record", SCHEMA_VERSION, "old records are retrained")
        rec = from_fields(
            cls,
            data,
            {
                "config": _run_config,
                "history": _history,
                "probes": Probes.from_json,
                "measurements": lambda ms: [
                    Measurement.from_json(m) for m in expect(ms, list, "Record.measurements")
                ],
                "provenance": lambda d: from_fields(Provenance, d),
                "timing": lambda d: from_fields(Timing, d),
                "world": lambda d: None if d is None else WorldStructure.from_json(d),
            },
        )
        expect_fields(
            rec,
            {
                "key": str,
                "identity": str,
                "fingerprint": str,
                "device_kind": str,
                "claim": str,
                "train_point": dict,
                "replicate": int,
                "seed": int,
                "seeds": dict,
                "eval_points": list,
                "eval": dict,
                "failed": bool,
            },
            "Record",
        )
        if rec.failed_at is not None:
            expect(rec.failed_at, int, "Record.failed_at")
        expect(rec.timing.ensemble_size, int, "Timing.ensemble_size")
        if rec.timing.ensemble_size < 1:
            raise RecordError(f"Timing.ensemble_size: must be >= 1, got {rec.timing.ensemble_size}")
        return rec
