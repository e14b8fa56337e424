"""Reading a run folder (RESULTS/runs/<run>/verdicts.json): the one loader from disk, for `report`,
`compare`, `history`, `nightly` and the HTML page.

A run folder can be empty (a run killed before its report), partial or corrupt (a disk, an editor, a
copy). Reading one either returns a typed `StoredRun` (its meta and its verdicts as `StoredVerdict`
objects: the same `Verdict` a run builds, with the figures, robustness label and multiverse block
the report stored beside it), or raises `RunFolderError`: one line naming the folder or file and
what is wrong, never a traceback."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.claims.verdict import Verdict

VERDICT_FIELDS = ("claim_id", "verdict", "prediction", "measurement", "over")


class RunFolderError(ValueError):
    """A run folder that cannot be read: the message is one line naming it."""


@dataclass(frozen=True)
class StoredVerdict(Verdict):
    """A verdict read back from verdicts.json, with what the report stored beside it."""

    figures: list[str] = field(default_factory=list)  # plot paths, relative to the run folder
    robustness: str = (
        ""  # the multiverse label (ROBUST / FRAGILE / CONTINGENT / PARTIAL), when it ran
    )
    multiverse: dict[str, Any] | None = None  # the claim's multiverse block, when it ran


@dataclass(frozen=True)
class StoredRun:
    """A run folder, read and checked: its meta and its verdicts."""

    folder: Path
    meta: dict[str, Any]
    verdicts: list[StoredVerdict]
    schema_version: int = 1
    # whether the verdicts carry the `estimate` field (runs before schema 2 do not)
    has_estimates: bool = True

    def verdict(self, claim_id: str) -> StoredVerdict | None:
        return next((v for v in self.verdicts if v.claim_id == claim_id), None)


def _problem(run: Any) -> str | None:
    """What is wrong with a parsed verdicts.json, or None."""
    if not isinstance(run, dict):
        return f"not a JSON object (got {type(run).__name__})"
    if not isinstance(run.get("meta"), dict):
        return "'meta' is missing or not an object"
    verdicts = run.get("verdicts")
    if not isinstance(verdicts, list):
        return "'verdicts' is missing or not a list"
    for i, v in enumerate(verdicts):
        if not isinstance(v, dict):
            return f"verdicts[{i}] is not an object"
        for k in VERDICT_FIELDS:
            if not isinstance(v.get(k), str):
                return f"verdicts[{i}].{k} is missing or not a string"
        if not isinstance(v.get("details", {}), dict):
            return f"verdicts[{i}].details is not an object"
    return None


def load_run(run_dir: str | Path) -> StoredRun:
    """The run folder as a StoredRun; RunFolderError if it is missing, empty, partial or
    corrupt."""
    d = Path(run_dir)
    if not d.is_dir():
        raise RunFolderError(f"{d}: not a run folder (no such folder)")
    p = d / "verdicts.json"
    if not p.is_file():
        raise RunFolderError(
            f"{d}: not a run folder (no verdicts.json: empty, or a run that did not finish)"
        )
    try:
        run = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{p}: unreadable ({' '.join(str(exc).split())})") from None
    problem = _problem(run)
    if problem:
        raise RunFolderError(f"{p}: {problem}")
    try:
        verdicts = [
            StoredVerdict.from_json(
                v,
                figures=[str(f) for f in v.get("figures") or []],
                robustness=str(v.get("robustness") or ""),
                multiverse=v.get("multiverse") if isinstance(v.get("multiverse"), dict) else None,
            )
            for v in run["verdicts"]
        ]
    except (TypeError, ValueError) as exc:
        raise RunFolderError(
            f"{p}: a verdict is malformed ({' '.join(str(exc).split())})"
        ) from None
    return StoredRun(
        d,
        dict(run["meta"]),
        verdicts,
        int(run.get("schema_version", 1)),
        not run["verdicts"] or any("estimate" in v for v in run["verdicts"]),
    )


def load_runs(run_dirs: list[str | Path], warn: Any = None) -> list[tuple[str | Path, StoredRun]]:
    """(folder, run) for every readable run; an unreadable one is skipped with `warn(message)`.
    RunFolderError if none is readable."""
    out = []
    for d in run_dirs:
        try:
            out.append((d, load_run(d)))
        except RunFolderError as exc:
            if warn:
                warn(f"skipped {exc}")
    if not out:
        raise RunFolderError(
            f"no readable run among {len(run_dirs)} folder(s)"
            + (f", e.g. {run_dirs[0]}" if run_dirs else "")
        )
    return out


def latest_run(
    runs_dir: str | Path, profile: str, exclude: str | Path | None = None, warn: Any = None
) -> Path | None:
    """The newest readable run folder of `profile` under `runs_dir` (by its recorded start time,
    then by name), other than `exclude`; None if there is none. Unreadable folders are skipped with
    `warn(message)`."""
    root = Path(runs_dir)
    skip = Path(exclude).resolve() if exclude else None
    found: list[tuple[str, str, Path]] = []
    for d in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        if skip is not None and d.resolve() == skip:
            continue
        try:
            run = load_run(d)
        except RunFolderError as exc:
            if warn:
                warn(f"skipped {exc}")
            continue
        if run.meta.get("profile") == profile:
            found.append((str(run.meta.get("started") or ""), d.name, d))
    return max(found)[2] if found else None
