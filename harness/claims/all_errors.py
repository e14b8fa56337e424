"""Every error of one claim file, not only the first: validation stops at the first problem, so
each found key is taken out of the file's table and the rest validated again, until the file
passes, a problem cannot be taken out (a missing key, a problem in the base file), a key goes
missing after one was taken out (a consequence, not a second error), or the list is long enough.
The keys come from the ClaimError itself (`fail` records them), never from its text.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from harness.claims.errors import ClaimError
from harness.claims.schema import load_claim, load_toml

MAX_ERRORS = 20
_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


def _remove(table: dict, key: str) -> bool:
    """Take dotted `key` (with list indices, `points[0].x`) out of `table`; False when it is not
    there to take out. A dotted grid axis name (`grid.data.S1`) is tried whole after the table."""
    parts = key.split(".")
    for cut in range(1, len(parts) + 1):  # "grid" + "data.S1": the rest as one name
        head, rest = parts[:cut], ".".join(parts[cut:])
        node = _walk(table, head[:-1])
        if node is None:
            continue
        last = head[-1]
        m = _INDEX.match(last)
        if rest:
            if isinstance(node, dict) and isinstance(node.get(last), dict) and rest in node[last]:
                del node[last][rest]
                return True
            continue
        if m and isinstance(node, dict) and isinstance(node.get(m.group(1)), list):
            items = node[m.group(1)]
            if int(m.group(2)) < len(items):
                del items[int(m.group(2))]
                return True
        elif isinstance(node, dict) and last in node:
            del node[last]
            return True
    return False


def _walk(table: dict, keys: list[str]) -> dict | None:
    node = table
    for k in keys:
        m = _INDEX.match(k)
        nxt = node.get(m.group(1)) if m and isinstance(node, dict) else node.get(k)
        if m:
            nxt = (
                nxt[int(m.group(2))]
                if isinstance(nxt, list) and int(m.group(2)) < len(nxt)
                else None
            )
        if not isinstance(nxt, dict):
            return None
        node = nxt
    return node


def file_errors(path: str | Path, limit: int = MAX_ERRORS) -> list[str]:
    """The one-line errors of one claim file, in the order validation meets them ([] if valid)."""
    path = Path(path)
    try:
        raw = load_toml(path)
    except ClaimError as exc:
        return [str(exc).splitlines()[0]]
    table = copy.deepcopy(raw)
    errors: list[str] = []
    removed: set[str] = set()
    while len(errors) < limit:
        try:
            load_claim(path, "quick", parsed=table)
            break
        except (ClaimError, ValueError) as exc:
            line = str(exc).splitlines()[0]
            key = getattr(exc, "key", "")
            # a consequence of taking a key out: that key again, or a key now missing (the typo
            # `statment` taken out leaves `statement` missing)
            if line in errors or key in removed or (errors and getattr(exc, "missing", False)):
                break
            errors.append(line)
            removed.add(key)
            same_file = getattr(exc, "path", "") == str(path)
            if not (key and same_file and _remove(table, key)):
                break
    return errors


__all__ = ["file_errors"]
