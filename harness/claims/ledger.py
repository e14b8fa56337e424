"""The pre-registration ledger: every claim's plan against the plan of its verdict in the reference
run.

The reference is a run folder (its `verdicts.json`): by default the committed nightly reference
`results/reference/nightly-cpu/` beside the claims folder
(`<claims>/../results/reference/nightly-cpu`), or `$ICLCHECK_REFERENCE` (`none` turns the check
off), or an explicit folder. Plans are compared in the reference's profile. The old plan of a claim
is the one its reference verdict stored (`plan`, `plan_digest`); a verdict written before verdicts
carried them gets it from the claim file (and its base file) at the reference run's git commit, `git
show <commit>:./<file>`, parsed and resolved like the current one. Without git, or without that
commit, the check says so once and is skipped; claims the reference does not hold are new and pass.

A plan that differs from the reference's with no `[[changes]]` entry whose `old_plan` is the
reference plan's digest is refused in one line naming the file and the first key that changed
(`enforce`, called by the loader before any run and by `iclcheck validate`); `iclcheck ledger` lists
everything."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.claims.analysis_plan import (
    changed_fields,
    changes_of,
    file_key,
    logs,
    plan_digest,
    resolve_plan,
)
from harness.claims.errors import ClaimError
from harness.claims.schema import load_toml
from harness.core.choices import REFERENCE_ENV

REFERENCE_DIR = Path("results") / "reference" / "nightly-cpu"
GIT_TIMEOUT_S = 30


def reference_dir(claim_file: str | Path, override: str | Path | None = None) -> Path | None:
    """The reference run folder for a claim file: `override`, else $ICLCHECK_REFERENCE, else
    <claims folder>/../results/reference/nightly-cpu; None when set to 'none'."""
    value = override if override is not None else os.environ.get(REFERENCE_ENV)
    if value is not None and str(value) != "":
        return None if str(value).lower() == "none" else Path(value)
    return Path(claim_file).resolve().parent.parent / REFERENCE_DIR


@dataclass
class Reference:
    """A reference run: its folder, profile, git commit and verdicts (as stored) by claim id."""

    folder: Path
    profile: str
    commit: str
    verdicts: dict[str, dict[str, Any]]


@functools.lru_cache(maxsize=16)
def _read_reference(folder: Path, stamp: tuple[int, int]) -> Reference | str:
    try:
        data = json.loads((folder / "verdicts.json").read_text())
        meta = data["meta"]
        verdicts = {str(v["claim_id"]): v for v in data["verdicts"]}
        return Reference(
            folder,
            str(meta.get("profile") or "nightly"),
            str(meta.get("git_commit") or ""),
            verdicts,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return (
            f"reference run {folder} is unreadable ({type(exc).__name__}: {exc}): plan changes are "
            "not checked"
        )


def read_reference(folder: Path | None) -> Reference | str | None:
    """The reference run in `folder`; None when there is none (no verdicts.json), a warning text
    when unreadable."""
    if folder is None or not (Path(folder) / "verdicts.json").is_file():
        return None
    folder = Path(folder).resolve()
    st = (folder / "verdicts.json").stat()
    return _read_reference(folder, (st.st_mtime_ns, st.st_size))


class GitUnavailable(Exception):
    """git cannot answer for the whole reference (not installed, not a repository, the commit is
    missing)."""


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_S
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitUnavailable(f"git is unavailable ({type(exc).__name__}: {exc})") from None


@functools.lru_cache(maxsize=64)
def _commit_problem(folder: Path, commit: str) -> str:
    """'' when git can read `commit` in `folder`, else why not."""
    if not commit:
        return "the reference run records no git commit"
    try:
        probe = _git(folder, "cat-file", "-e", f"{commit}^{{commit}}")
    except GitUnavailable as exc:
        return str(exc)
    return (
        ""
        if probe.returncode == 0
        else (
            f"git cannot read commit {commit[:12]} in {folder} "
            f"({' '.join(probe.stderr.split()) or 'unknown commit'})"
        )
    )


@functools.lru_cache(maxsize=512)
def git_show(folder: Path, commit: str, name: str) -> str | None:
    """The text of `name` (in `folder`) at `commit`; None if it did not exist then. GitUnavailable
    if git can't tell."""
    problem = _commit_problem(folder, commit)
    if problem:
        raise GitUnavailable(problem)
    shown = _git(folder, "show", f"{commit}:./{name}")
    return shown.stdout if shown.returncode == 0 else None


@dataclass
class PlanStatus:
    """One claim's plan against the reference: logged changes, the reference plan and what
    differs."""

    claim_id: str
    path: str
    digest: str  # the plan now, in the reference's profile
    changes: list[dict[str, str]]
    old_digest: str | None = None  # the reference verdict's plan (None: new, or not checked)
    # file keys that differ (empty when the old fields are unknown)
    keys: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.old_digest is not None and self.old_digest != self.digest

    @property
    def logged(self) -> bool:
        return self.changed and any(logs(c, self.old_digest or "") for c in self.changes)

    @property
    def unlogged(self) -> bool:
        return self.changed and not self.logged

    def line(self) -> str:
        """The one-line refusal: file, first changed key, both digests, the missing entry."""
        key = (
            self.keys[0] + (f" (and {len(self.keys) - 1} more)" if len(self.keys) > 1 else "")
            if self.keys
            else "plan"
        )
        return (
            f"{self.path}: {key}: plan changed since the reference run (plan {self.old_digest} -> "
            f"{self.digest}) "
            f"with no [[changes]] entry for old_plan {self.old_digest}"
        )


@dataclass
class Audit:
    """Every claim's PlanStatus, and the warnings (each once) about what could not be checked."""

    references: list[Reference]  # the reference runs read
    statuses: list[PlanStatus]
    warnings: list[str]

    @property
    def unlogged(self) -> list[PlanStatus]:
        return [s for s in self.statuses if s.unlogged]


def _old_plan(ref: Reference, path: Path, rv: dict[str, Any]) -> tuple[str, dict | None]:
    """(digest, fields or None) of the reference verdict's plan: stored, else from git at the
    reference commit."""
    stored, fields = rv.get("plan_digest"), rv.get("plan")
    if isinstance(fields, dict) and stored == plan_digest(fields):
        return stored, fields
    try:
        old = _git_plan(ref, path)
    except GitUnavailable:
        if stored:
            return str(stored), None
        raise
    if stored and (old is None or plan_digest(old) != stored):
        return str(stored), None
    if old is None:
        raise FileNotFoundError(f"{path.name} is not in commit {ref.commit[:12]}")
    return plan_digest(old), old


def _git_plan(ref: Reference, path: Path) -> dict | None:
    folder = path.resolve().parent

    def read(name: str) -> dict | None:
        text = git_show(folder, ref.commit, name)
        return None if text is None else tomllib.loads(text)

    raw = read(path.name)
    if raw is None:
        return None
    base_name = raw.get("base", "_base.toml")
    return resolve_plan(
        raw, (read(base_name) if isinstance(base_name, str) else None) or {}, ref.profile
    )


def _current(path: Path, profile: str) -> tuple[dict, dict]:
    raw = load_toml(path)
    base_path = path.parent / raw.get("base", "_base.toml")
    base = load_toml(base_path) if base_path.is_file() else {}
    return raw, resolve_plan(raw, base, profile)


def audit(paths: list[str | Path], reference: str | Path | None = None) -> Audit:
    """Every claim file's plan against the reference run (see the module doc); never raises for
    git."""
    warnings: list[str] = []
    out: list[PlanStatus] = []
    refs: list[Reference] = []
    for path in map(Path, paths):
        folder = reference_dir(path, reference)
        ref = read_reference(folder)
        if isinstance(ref, str):
            warnings += [ref] if ref not in warnings else []
            ref = None
        if ref and ref not in refs:
            refs.append(ref)
        profile = ref.profile if ref else "nightly"
        raw, plan = _current(path, profile)
        status = PlanStatus(
            str(raw.get("id", path.stem)), str(path), plan_digest(plan), changes_of(raw)
        )
        out.append(status)
        rv = ref.verdicts.get(status.claim_id) if ref else None
        if rv is None:
            status.note = "new since the reference" if ref else "no reference run"
            continue
        try:
            status.old_digest, old = _old_plan(ref, path, rv)
        except GitUnavailable as exc:
            msg = f"{exc}: plan changes since the reference run {ref.folder} are not checked"
            warnings += [msg] if msg not in warnings else []
            status.note = "not checked (git)"
            continue
        except (FileNotFoundError, ValueError, tomllib.TOMLDecodeError, ClaimError) as exc:
            warnings.append(
                f"{path}: the plan of the reference verdict cannot be rebuilt ({exc}): not checked"
            )
            status.note = "not checked"
            continue
        if old is not None:
            status.keys = [file_key(raw, profile, f) for f in changed_fields(old, plan)]
        status.note = (
            "unchanged" if not status.changed else "logged" if status.logged else "UNLOGGED"
        )
    return Audit(refs, out, warnings)


_WARNED: set[str] = set()


def warn_once(msg: str) -> None:
    """Print `warning: ledger: ...` to stderr, once per process."""
    if msg not in _WARNED:
        _WARNED.add(msg)
        print(f"warning: ledger: {msg}", file=sys.stderr)


def enforce(
    paths: list[str | Path],
    reference: str | Path | None = None,
    warn: Callable[[str], None] = warn_once,
) -> Audit:
    """ClaimError (one line: file, key, both digests) for the first plan changed since the reference
    with no log entry."""
    result = audit(paths, reference)
    for w in result.warnings:
        warn(w)
    if result.unlogged:
        raise ClaimError(result.unlogged[0].line())
    return result
