"""Typed records from JSON: every field present, nothing unknown, each nested part built by its own
type.

A stored record that lacks a field, carries one no version wrote, or holds a value its type rejects
raises RecordError with one line saying which field; the store then quarantines the file."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class RecordError(ValueError):
    """A stored record that cannot be used: unparseable, tampered, misplaced, incomplete or of
    another schema."""


def from_fields(
    cls: type[T],
    data: Any,
    convert: dict[str, Callable[[Any], Any]] | None = None,
    optional: tuple[str, ...] = (),
) -> T:
    """`cls(**data)` after checking that `data` is an object with exactly the dataclass's fields
    (those in `optional` may be missing: they take their defaults); `convert` builds nested fields.
    """
    if not isinstance(data, dict):
        raise RecordError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    missing = [n for n in names if n not in data and n not in optional]
    if missing:
        raise RecordError(f"{cls.__name__}: missing field {', '.join(missing)}")
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise RecordError(f"{cls.__name__}: unknown field {', '.join(unknown)}")
    kw = dict(data)
    for name, fn in (convert or {}).items():
        if name in kw:
            try:
                kw[name] = fn(kw[name])
            except RecordError:
                raise
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                raise RecordError(f"{cls.__name__}.{name}: {type(exc).__name__}: {exc}") from None
    try:
        return cls(**kw)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"{cls.__name__}: {exc}") from None


def expect(value: Any, types: type | tuple[type, ...], where: str) -> Any:
    """`value` if it is one of `types` (bool is not an int here), else RecordError naming
    `where`."""
    ok = isinstance(value, types) and not (
        isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,))
    )
    if not ok:
        raise RecordError(f"{where}: expected {types}, got {type(value).__name__}")
    return value


def check_version(data: Any, what: str, version: int, note: str = "") -> dict:
    """`data` if it is an object of schema `version`, else RecordError naming the type (and `note`,
    e.g. what happens to an old record)."""
    if not isinstance(data, dict):
        raise RecordError(f"{what}: expected an object, got {type(data).__name__}")
    found = data.get("schema_version")
    if found != version:
        raise RecordError(
            f"schema_version {found!r}: this harness reads {what} version {version}"
            + (f" ({note})" if note else "")
        )
    return data


def expect_fields(obj: Any, types: dict[str, type | tuple[type, ...]], what: str) -> None:
    """Each named attribute of `obj` has its type (RecordError naming `what.field` otherwise)."""
    for name, t in types.items():
        expect(getattr(obj, name), t, f"{what}.{name}")
