"""A claim's pre-registered analysis plan, its digest, and its change log (`[[changes]]`).

The plan is everything that can change a verdict, resolved for one profile exactly as the loader
resolves it:
- the analysis: `kind`, `metric`, `prediction`, `grid`, `select`, `replicates`, `form`, `control`
  (the claim file's values, then the profile's overrides: tables updated key by key, anything else
  replaced; `replicates` falls back to the base file's, then 3);
- the world it runs in: `setting` (base, claim and profile merged key by key), `eval` (the same;
  `chunk`, which only sizes the evaluation batches, is left out), `pair_over`;
- the readings, the multiverse narrowing and the expectation, as the file writes them;
- `base`: the digest of the base file's setting, eval and replicates, so that a change entry in
  the base file can cover what every claim inherits (see harness.claims.ledger);
- `version`: 2. A plan of version 1 (no version key) held only the analysis keys; the ledger
  compares a version-1 reference verdict on those alone and says so once.
Free text (statement, reasons, assumption_break, paper_trend), the figure and the `[[changes]]`
log itself are not part of it. Its digest is the first 12 hex digits of the sha256 of its canonical
JSON (harness.core.jsonio), so the order of keys and every word of prose leave it unchanged.

Every verdict records the digest of the plan it was judged under (the run profile's). A file whose
plan changed after a verdict logs the move:

    [[changes]]
    date = 2026-11-23            # a TOML date or "YYYY-MM-DD"
    what = "dropped B = 128 from the nightly grid"
    why = "..."
    old_verdict = "INCONCLUSIVE" # the verdict the old plan gave, or "not recorded"
    old_plan = "1a2b3c4d5e6f"    # digest of the replaced plan (6 to 64 hex digits; a prefix)
    commit = "ee948af"           # optional: the commit of the old verdict

harness.claims.ledger compares plans with a reference run."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from harness.claims.errors import check_type, fail, suggest
from harness.claims.verdict import VERDICTS
from harness.core.jsonio import content_hash

# the analysis keys (all a version-1 plan held), then the world and the file's declarations
ANALYSIS_KEYS = ("kind", "metric", "prediction", "grid", "select", "replicates", "form")
DECLARED_KEYS = ("pair_over", "readings", "multiverse", "expectation")
PLAN_VERSION = 2
PERFORMANCE_EVAL_KEYS = frozenset({"chunk"})  # sizes batches only: never changes a verdict
DIGEST_LENGTH = 12
NOT_RECORDED = "not recorded"
CHANGE_KEYS: dict[str, type] = {
    "date": str,
    "what": str,
    "why": str,
    "old_verdict": str,
    "old_plan": str,
    "commit": str,
}
CHANGE_REQUIRED = ("date", "what", "why", "old_verdict", "old_plan")
HEX = re.compile(r"[0-9a-f]+")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def base_digest(base: dict) -> str:
    """The digest of what a base file gives every claim: its setting, eval and replicates."""
    inherited = {
        "setting": base.get("setting") or {},
        "eval": _eval_of(base),
        "replicates": base.get("replicates", 3),
    }
    return content_hash(inherited, DIGEST_LENGTH)


def _eval_of(table: dict) -> dict:
    return {k: v for k, v in (table.get("eval") or {}).items() if k not in PERFORMANCE_EVAL_KEYS}


def resolve_plan(raw: dict, base: dict, profile: str) -> dict[str, Any]:
    """The plan of a parsed claim file (`raw`, with its parsed base file `base`) for `profile`;
    optional keys a file does not declare are left out, so a new optional key leaves the digests of
    older files unchanged."""
    prof = (raw.get("profiles") or {}).get(profile) or {}
    plan: dict[str, Any] = {"version": PLAN_VERSION, "base": base_digest(base)}
    for k in (*ANALYSIS_KEYS, "control"):
        v = raw.get(k)
        if k in prof:
            over = prof[k]
            v = {**v, **over} if isinstance(v, dict) and isinstance(over, dict) else over
        if k == "replicates" and v is None:
            v = base.get("replicates", 3)
        if v is not None:
            plan[k] = v
    setting: dict = {}
    ev: dict = {}
    for table in (base, raw, prof):
        setting = _merge(setting, table.get("setting") or {})
        ev.update(_eval_of(table))
    plan["setting"], plan["eval"] = setting, ev
    for k in DECLARED_KEYS:
        if raw.get(k):
            plan[k] = raw[k]
    return plan


def legacy_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """The version-1 part of a plan (its analysis keys), to compare with a version-1 reference."""
    return {k: plan[k] for k in ANALYSIS_KEYS if k in plan}


def is_legacy(plan: dict[str, Any] | None) -> bool:
    """Whether a stored plan is of version 1 (written before plans held the setting)."""
    return plan is not None and "version" not in plan


def plan_digest(plan: dict[str, Any]) -> str:
    """The plan's digest: canonical JSON (sorted keys), sha256, 12 hex digits."""
    return content_hash(plan, DIGEST_LENGTH)


def toml_key(*parts: str) -> str:
    """A dotted TOML key, each part quoted where it is not a bare key: grid."train.batch"."""
    return ".".join(p if BARE_KEY.fullmatch(p) else f'"{p}"' for p in parts)


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, ...]]:
    """The plan fields that differ, down to the leaves of nested tables: [("grid", "train.batch"),
    ("setting", "model", "m"), ("replicates",)], sorted."""
    out: list[tuple[str, ...]] = []
    for k in sorted(set(old) | set(new), key=str):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += [(k, *sub) for sub in changed_fields(a, b)]
        else:
            out.append((k,))
    return out


INHERITED = ("setting", "eval", "replicates")  # plan fields a claim may take from its base file


def set_in_claim(raw: dict, profile: str, field: tuple[str, ...]) -> bool:
    """Whether the claim file itself (or its profile) writes `field`, rather than inheriting it
    from the base file. Fields outside INHERITED are always the claim's."""
    if field[0] == "base":
        return False
    if field[0] not in INHERITED:
        return True
    prof = (raw.get("profiles") or {}).get(profile) or {}
    for table in (raw, prof):
        node: Any = table
        for part in field:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return True
    return False


def file_key(raw: dict, profile: str, field: tuple[str, ...]) -> str:
    """Where `field` of the plan is written in the claim file: under [profiles.<profile>] when the
    profile sets it."""
    prof = (raw.get("profiles") or {}).get(profile) or {}
    node: Any = prof
    in_profile = True
    for part in field:
        if not isinstance(node, dict) or part not in node:
            in_profile = False
            break
        node = node[part]
    return toml_key(*(("profiles", profile) if in_profile else ()), *field)


def _entry_key(i: int, k: str | None = None) -> str:
    return f"changes[{i}]" + (f".{k}" if k else "")


def check_changes(path: Any, entries: Any) -> None:
    """ClaimError (one line naming the file and the entry's key, entries counted from 1) unless
    every [[changes]] entry is a table of the known keys with the right types: date, what, why,
    old_verdict, old_plan, optional commit."""
    check_type(path, "changes", entries, list)
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict):
            fail(
                path, _entry_key(i), f"must be a table ([[changes]]), got {type(e).__name__} {e!r}"
            )
        for k, v in e.items():
            if k not in CHANGE_KEYS:
                fail(path, _entry_key(i, k), "unknown key" + suggest(k, CHANGE_KEYS))
            if not (k == "date" and isinstance(v, dt.date) and not isinstance(v, dt.datetime)):
                check_type(path, _entry_key(i, k), v, CHANGE_KEYS[k])
        for k in CHANGE_REQUIRED:
            if k not in e:
                fail(
                    path,
                    _entry_key(i, k),
                    "missing (a [[changes]] entry needs date, what, why, old_verdict and old_plan)",
                )
        _check_entry_values(path, i, e)


def _check_entry_values(path: Any, i: int, e: dict) -> None:
    if isinstance(e["date"], str) and not DATE.fullmatch(e["date"]):
        fail(path, _entry_key(i, "date"), f"must be a date YYYY-MM-DD, got {e['date']!r}")
    for k in ("what", "why"):
        if not e[k].strip():
            fail(path, _entry_key(i, k), "must not be empty (say what changed and why)")
    allowed = (*VERDICTS, NOT_RECORDED)
    if e["old_verdict"] not in allowed:
        fail(
            path,
            _entry_key(i, "old_verdict"),
            f"must be a verdict or {NOT_RECORDED!r}, got {e['old_verdict']!r}"
            + suggest(e["old_verdict"], allowed),
        )
    if not (6 <= len(e["old_plan"]) <= 64 and HEX.fullmatch(e["old_plan"])):
        fail(
            path,
            _entry_key(i, "old_plan"),
            f"must be the replaced plan's digest (6 to 64 lower-case hex digits, "
            f"`iclcheck ledger` prints it), got {e['old_plan']!r}",
        )
    if "commit" in e and not (4 <= len(e["commit"]) <= 40 and HEX.fullmatch(e["commit"])):
        fail(
            path,
            _entry_key(i, "commit"),
            f"must be a git commit (4 to 40 lower-case hex digits), got {e['commit']!r}",
        )


def changes_of(raw: dict) -> list[dict[str, str]]:
    """The file's [[changes]] entries (checked by check_changes), dates as YYYY-MM-DD strings."""
    return [
        {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in e.items()}
        for e in raw.get("changes", [])
    ]


def logs(change: dict[str, str], digest: str) -> bool:
    """Whether a [[changes]] entry logs the replacement of the plan with digest `digest`."""
    old = change.get("old_plan", "")
    return len(old) >= 6 and (digest.startswith(old) or old.startswith(digest))
