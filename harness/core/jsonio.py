"""One JSON sanitiser, one canonical form, one content hash and one atomic writer for everything
stored.

Claim records, fuzz records and reports all go through these, so a non-finite float is spelled the
same way everywhere ('nan', 'inf', '-inf'), a key or checksum is the same sha256 of the same
canonical JSON, and a kill leaves either a whole file or none."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

NON_FINITE = ("nan", "inf", "-inf")


def json_safe(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become 'nan' / 'inf' / '-inf', tuples lists, dict keys
    strings."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def restore(obj: Any) -> Any:
    """Inverse of json_safe for floats: the strings 'nan' / 'inf' / '-inf' become floats again."""
    if isinstance(obj, str) and obj in NON_FINITE:
        return float(obj)
    if isinstance(obj, dict):
        return {k: restore(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [restore(v) for v in obj]
    return obj


def canonical(obj: Any) -> str:
    """Sorted keys, no spaces: equal content gives equal text (what keys and checksums hash)."""
    return json.dumps(json_safe(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def content_hash(obj: Any, length: int = 64) -> str:
    """sha256 of the canonical JSON of `obj`, hex, cut to `length` characters."""
    return hashlib.sha256(canonical(obj).encode()).hexdigest()[:length]


def dumps(obj: Any) -> str:
    """The stored (human-readable) form: sanitised, sorted keys, indented."""
    return json.dumps(json_safe(obj), sort_keys=True, indent=1, allow_nan=False)


def _umask() -> int:
    """The process's umask (read by setting and restoring it: call it before threads start)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _umask()  # read once, at import: os.umask is process-wide and not thread-safe


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, rename into place; the file gets the
    mode a plain open() would give it (0666 less the umask), not mkstemp's 0600."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """atomic_write_text for bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
