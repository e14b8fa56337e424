"""Reading a run folder (RESULTS/runs/<run>/verdicts.json) for `report`, `compare` and `history`.

A run folder can be empty (a run killed before its report), partial or
corrupt (a disk, an editor, a copy). Reading one either returns the run, with
the fields the views read checked, or raises `RunFolderError`: one line naming
the folder or file and what is wrong, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VERDICT_FIELDS = ("claim_id", "verdict", "prediction", "measurement", "over")


class RunFolderError(ValueError):
    """A run folder that cannot be read: the message is one line naming it."""


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


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """The run's {meta, verdicts}; RunFolderError if the folder is missing, empty, partial or
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
    return run


def load_runs(
    run_dirs: list[str | Path], warn: Any = None
) -> list[tuple[str | Path, dict[str, Any]]]:
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
        if run["meta"].get("profile") == profile:
            found.append((str(run["meta"].get("started") or ""), d.name, d))
    return max(found)[2] if found else None
