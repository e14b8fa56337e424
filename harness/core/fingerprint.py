"""The fingerprint of the code that trains and measures: a hash of its source files, once per
process.

Like asv hashing each benchmark's source: a stored record whose fingerprint differs was produced by
other code and is not reused silently. Covered: the networks (`models/`), the world, measurement and
training sub-packages, and the record module (what a record holds); `train_fingerprint` covers
the part a trained model depends on. Reports, claims parsing and the
CLI are not: changing them does not change a measurement."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

HARNESS = Path(__file__).resolve().parent.parent
CODE_PARTS = ("world", "measure", "training", "claims/record.py")
# what a trained model's weights and its checkpoint curves depend on (a subset of CODE_PARTS)
TRAIN_PARTS = (
    "world",
    "training",
    "measure/architectures.py",
    "measure/evaluation.py",
    "measure/probes.py",
)


def _models_dir() -> Path:
    spec = importlib.util.find_spec("models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the 'models' package is not importable: cannot fingerprint the training code"
        )
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def code_files(parts: tuple[str, ...] = CODE_PARTS) -> list[tuple[str, Path]]:
    """(stable name, path) of every source file a fingerprint covers (the networks and `parts` of
    the harness), sorted by name."""
    out: list[tuple[str, Path]] = []
    for base, name, part in [(_models_dir(), "models", ".")] + [
        (HARNESS, "harness", p) for p in parts
    ]:
        target = base / part
        if not target.exists():
            raise RuntimeError(f"fingerprinted code is missing: {target}")
        files = [target] if target.is_file() else sorted(target.rglob("*.py"))
        out += [(f"{name}/{f.relative_to(base).as_posix()}", f) for f in files]
    return sorted(out)


def _digest(files: list[tuple[str, Path]]) -> str:
    h = hashlib.sha256()
    for name, path in files:
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 (hex, 16 characters) over the names and contents of code_files(): the code that
    trains and measures (a measurement record's key)."""
    return _digest(code_files())


@functools.lru_cache(maxsize=1)
def train_fingerprint() -> str:
    """The same over the code that trains and records the checkpoint curves only (a stored model's
    key): a change to how models are measured keeps the stored models."""
    return _digest(code_files(TRAIN_PARTS))
