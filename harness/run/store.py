"""Results store: one JSON record per finished unit, content-addressed, written atomically.

Layout: ROOT/store/<claim-id>/<unit-key>.json. A record is written to a
temporary file in the same folder and renamed into place, so a kill leaves
either the whole record or none; a rerun skips every unit whose record exists.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable


def _clean(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become strings 'nan' / 'inf' / '-inf'."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _restore(obj: Any) -> Any:
    if obj in ("nan", "inf", "-inf"):
        return float(obj)
    if isinstance(obj, dict):
        return {k: _restore(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_restore(v) for v in obj]
    return obj


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, claim_id: str, key: str) -> Path:
        return self.root / "store" / claim_id / f"{key}.json"

    def has(self, claim_id: str, key: str) -> bool:
        return self.path(claim_id, key).exists()

    def write(self, record: dict[str, Any]) -> Path:
        p = self.path(record["claim"], record["key"])
        atomic_write_text(p, json.dumps(_clean(record), sort_keys=True, indent=1))
        return p

    def read(self, claim_id: str, key: str) -> dict[str, Any]:
        return _restore(json.loads(self.path(claim_id, key).read_text()))

    def records(self, claim_id: str, keys: Iterable[str]) -> list[dict[str, Any]]:
        """The stored records among `keys` (missing ones skipped)."""
        return [self.read(claim_id, k) for k in keys if self.has(claim_id, k)]
