"""The one error a claim file can raise, and the helpers that phrase it.

Every problem with a claim file is one line "FILE: KEY: what is wrong (did you
mean ...)", so the CLI can print it and exit 2 without a traceback. Kept apart
from schema.py so the value checks (checks.py) and the structure checks
(schema.py) share it without importing each other.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn


class ClaimError(ValueError):
    """A malformed claim file: the message is one line naming the file and key; `path` and `key`
    say which, where `fail` raised it (so a caller never parses the message back)."""

    def __init__(self, message: str, path: str = "", key: str = "", missing: bool = False):
        super().__init__(message)
        self.path, self.key, self.missing = path, key, missing


def suggest(name: Any, allowed: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest allowed name, else the allowed list."""
    allowed = sorted(allowed)
    close = difflib.get_close_matches(str(name), allowed, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"


def fail(path: Path | str, key: str, msg: str) -> NoReturn:
    """Raise the one-line ClaimError for `key` of `path` (newlines in `msg` are folded)."""
    raise ClaimError(
        f"{path}: {key}: " + " ".join(msg.split()), str(path), key, msg.startswith("missing")
    )


def type_name(t: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true/false",
        dict: "a table",
        list: "a list",
    }[t]


def has_type(value: Any, t: type) -> bool:
    """Exact TOML typing: booleans are not numbers, integers are numbers, nothing else converts."""
    if t is bool:
        return isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if t is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, t)


def check_type(path: Path | str, key: str, value: Any, t: type) -> None:
    """ClaimError unless `value` has type `t`; a number must also be finite (TOML allows nan and
    inf)."""
    if not has_type(value, t):
        fail(path, key, f"must be {type_name(t)}, got {type(value).__name__} {value!r}")
    if t is float and not math.isfinite(value):
        fail(path, key, f"must be a finite number, got {value!r}")


def check_table(
    path: Path | str, prefix: str, table: dict[str, Any], keys: dict[str, type]
) -> None:
    """Every key of `table` is one of `keys` (else 'unknown key', with a suggestion) and of its
    type; `prefix` is the dotted key of the table ('' for the top level)."""
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        if k not in keys:
            fail(path, key, "unknown key" + suggest(k, keys))
        check_type(path, key, v, keys[k])
