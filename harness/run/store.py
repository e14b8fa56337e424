"""Results store: one JSON file per record, filed by namespace and key, checked on every read.

Layout: DIR/<namespace>/<key>.json (claims: results/store/<claim-id>/, fuzzing:
results/fuzz/records/). A record is written atomically (temporary file + rename,
harness.core.jsonio), so a kill leaves the whole record or none; a rerun skips every unit whose
record is there. Each file carries its key and a checksum (sha256 of the canonical JSON of the
rest). A file that does not parse, fails its checksum, sits under another key, or that its type
refuses (a missing field, an old schema version) is moved to DIR/quarantine/ with one warning line
naming it, and counts as missing: it is never used silently."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from harness.core.fields import RecordError
from harness.core.jsonio import atomic_write_text, content_hash, dumps, restore

QUARANTINE = "quarantine"
T = TypeVar("T")


class Storable(Protocol):
    key: str

    def to_json(self) -> dict[str, Any]: ...


def checksum(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a record's content (everything but the checksum itself)."""
    return content_hash({k: v for k, v in payload.items() if k != "checksum"})


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


class Store:
    """Records under one folder; `log` receives the one-line warnings about quarantined files."""

    def __init__(self, directory: str | Path, log: Callable[[str], None] | None = None):
        self.dir = Path(directory)
        self.log = log or _stderr

    def path(self, namespace: str, key: str) -> Path:
        if (
            namespace in ("", ".", "..", QUARANTINE)
            or "/" in namespace
            or "/" in key
            or key.startswith(".")
        ):
            raise ValueError(f"store: invalid namespace or key {namespace!r}/{key!r}")
        return self.dir / namespace / f"{key}.json"

    def has(self, namespace: str, key: str) -> bool:
        return self.path(namespace, key).exists()

    def write(self, namespace: str, record: Storable) -> Path:
        payload = record.to_json()
        payload["checksum"] = checksum(json.loads(dumps(payload)))
        p = self.path(namespace, record.key)
        atomic_write_text(p, dumps(payload))
        return p

    def read(self, namespace: str, key: str, parse: Callable[[Any], T]) -> T | None:
        """The record filed under `key`, or None if there is none or it was quarantined."""
        p = self.path(namespace, key)
        return self._load(p, parse, key) if p.exists() else None

    def read_path(self, path: Path, parse: Callable[[Any], T]) -> T | None:
        """The record in one file of this store (its key is its name), or None if it was
        quarantined."""
        return self._load(path, parse, path.stem)

    def paths(self, namespace: str, pattern: str = "*") -> list[Path]:
        """The record files of a namespace whose key matches a glob pattern, by name."""
        return sorted((self.dir / namespace).glob(f"{pattern}.json"))

    def records(self, namespace: str, keys: Iterable[str], parse: Callable[[Any], T]) -> list[T]:
        """The usable records among `keys` (missing and quarantined ones left out)."""
        out = [self.read(namespace, k, parse) for k in keys]
        return [r for r in out if r is not None]

    def _load(self, p: Path, parse: Callable[[Any], T], key: str) -> T | None:
        try:
            data = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self.quarantine(p, f"does not parse ({type(exc).__name__}: {exc})")
        if not isinstance(data, dict):
            return self.quarantine(p, f"not a record object ({type(data).__name__})")
        if data.get("checksum") != checksum(data):
            return self.quarantine(p, "checksum mismatch (changed after it was written)")
        if data.get("key") != key:
            return self.quarantine(p, f"holds the record of key {data.get('key')!r}, not {key!r}")
        try:
            return parse(restore({k: v for k, v in data.items() if k != "checksum"}))
        except RecordError as exc:
            return self.quarantine(p, str(exc))

    def quarantine(self, p: Path, why: str) -> None:
        """Move a bad file to DIR/quarantine/<namespace>/ (never over another) and say so in one
        line."""
        dest_dir = self.dir / QUARANTINE / p.parent.name
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest, n = dest_dir / p.name, 1
        while dest.exists():
            dest, n = dest_dir / f"{p.name}.{n}", n + 1
        try:
            os.replace(p, dest)
        except OSError as exc:
            self.log(
                f"warning: store: {p}: unusable ({why}); could not quarantine it ({exc}); it is "
                "ignored"
            )
            return None
        self.log(f"warning: store: {p}: unusable ({why}); moved to {dest}, its unit is retrained")
        return None
