"""Trained models in the store, apart from their measurements: train once, measure many times.

A stored model is one ensemble member's weights, filed under what determines training only (the
training part of its run config with its seed, the device kind and the fingerprint of the code that
trains: `Unit.train_key`): DIR/models/<key>.pt (torch.save of the member's tensors) beside
DIR/models/<key>.json (the `StoredModel` metadata, checksummed by the store, with the sha256 of the
weights file). The checkpoint curves a training recorded (harness.training.history) read the test
prompts' settings too, so they are filed apart: DIR/curves/<train key>-<reading>.json
(`StoredCurve`). A weights file that is missing, unreadable or fails its sha256 is quarantined with
its metadata, in one warning line, and its model is trained again: never used silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from dataclasses import dataclass
from typing import Any

import torch

from harness.core.fields import check_version, expect_fields, from_fields
from harness.core.jsonio import atomic_write_bytes
from harness.run.store import QUARANTINE, Store
from harness.training.history import History

MODELS, CURVES = "models", "curves"
MODEL_SCHEMA = 1


@dataclass(frozen=True)
class StoredModel:
    """One trained member's metadata: what trained it, whether it failed, what it cost."""

    key: str
    training: dict[str, Any]  # the run config's training part (seed included)
    seed: int
    device_kind: str
    fingerprint: str  # of the code that trains
    failed: bool
    failed_at: int | None
    train_seconds: float  # this member's share of its ensemble's training time
    ensemble_size: int
    compiled: bool
    weights_sha256: str
    schema_version: int = MODEL_SCHEMA

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> StoredModel:
        check_version(data, "StoredModel", MODEL_SCHEMA, "old models are trained again")
        m = from_fields(cls, data)
        expect_fields(
            m,
            {"key": str, "training": dict, "seed": int, "failed": bool, "weights_sha256": str},
            "StoredModel",
        )
        return m


@dataclass(frozen=True)
class StoredCurve:
    """The checkpoint curves of one training under one reading (test prompts, schedule)."""

    key: str
    model: str  # the StoredModel key
    reading: dict[str, Any]
    history: History

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> StoredCurve:
        return from_fields(cls, data, {"history": lambda d: from_fields(History, d)})


def member_state(model: torch.nn.Module, e: int) -> dict[str, torch.Tensor]:
    """Member e's tensors (every parameter's leading dimension is the member), detached copies."""
    return {k: v[e].detach().cpu().clone() for k, v in model.state_dict().items()}


def load_members(model: torch.nn.Module, states: list[dict[str, torch.Tensor]]) -> None:
    """Put the members' stored tensors into an ensemble of len(states) members, in order."""
    current = model.state_dict()
    stacked = {
        k: torch.stack([s[k] for s in states]).to(device=v.device, dtype=v.dtype)
        for k, v in current.items()
    }
    model.load_state_dict(stacked)


def _weights_bytes(state: dict[str, torch.Tensor]) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


class ModelStore:
    """Trained members and their curves in one results store."""

    def __init__(self, store: Store):
        self.store = store

    def weights_path(self, key: str):
        return self.store.path(MODELS, key).with_suffix(".pt")

    def has(self, key: str) -> bool:
        return self.store.has(MODELS, key) and self.weights_path(key).exists()

    def write(self, meta: StoredModel, state: dict[str, torch.Tensor]) -> StoredModel:
        """Weights first, then the metadata with their sha256 filled in: a kill between the two
        leaves weights without metadata, which count as missing."""
        data = _weights_bytes(state)
        meta = dataclasses.replace(meta, weights_sha256=hashlib.sha256(data).hexdigest())
        atomic_write_bytes(self.weights_path(meta.key), data)
        self.store.write(MODELS, meta)
        return meta

    def meta(self, key: str) -> StoredModel | None:
        """The model's checked metadata, or None (missing, or quarantined with one warning)."""
        meta = self.store.read(MODELS, key, StoredModel.from_json)
        if meta is not None and not self.weights_path(key).exists():
            self._quarantine(key, "its weights file is missing")
            return None
        return meta

    def load(self, key: str) -> tuple[StoredModel, dict[str, torch.Tensor]] | None:
        """Metadata and weights, both checked; None if either is missing or unusable."""
        meta = self.meta(key)
        if meta is None:
            return None
        path = self.weights_path(key)
        try:
            data = path.read_bytes()
        except OSError as exc:
            return self._quarantine(key, f"weights unreadable ({exc})")
        if hashlib.sha256(data).hexdigest() != meta.weights_sha256:
            return self._quarantine(
                key, "weights fail their sha256 (changed after they were saved)"
            )
        try:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # a file that matches its hash but does not load
            return self._quarantine(key, f"weights do not load ({type(exc).__name__})")
        return meta, state

    def curve(self, key: str) -> StoredCurve | None:
        return self.store.read(CURVES, key, StoredCurve.from_json)

    def write_curve(self, curve: StoredCurve) -> None:
        self.store.write(CURVES, curve)

    def _quarantine(self, key: str, why: str) -> None:
        dest = self.store.dir / QUARANTINE / MODELS
        dest.mkdir(parents=True, exist_ok=True)
        for p in (self.weights_path(key), self.store.path(MODELS, key)):
            if p.exists():
                os.replace(p, dest / p.name)
        self.store.log(
            f"warning: store: model {key}: unusable ({why}); moved to {dest}, it is trained again"
        )
        return None
