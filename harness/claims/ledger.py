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
    is_legacy,
    legacy_plan,
    logs,
    plan_digest,
    resolve_plan,
    set_in_claim,
    toml_key,
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
    differs. A change is logged by an entry of the claim file whose old_plan is the reference
    plan's digest, or, when everything that changed is inherited from the base file, by an entry
    of the base file whose old_plan is the reference plan's base digest."""

    claim_id: str
    path: str
    digest: str  # the plan now, in the reference's profile (its analysis keys: legacy)
    changes: list[dict[str, str]]
    old_digest: str | None = None  # the reference verdict's plan (None: new, or not checked)
    # file keys that differ (empty when the old fields are unknown): the claim's own, then those
    # it inherits from the base file (written as the base file writes them)
    keys: list[str] = field(default_factory=list)
    inherited: list[str] = field(default_factory=list)
    note: str = ""
    base_path: str = ""
    base_changes: list[dict[str, str]] = field(default_factory=list)
    old_base: str = ""  # the reference plan's base digest ("" for a version-1 plan)
    legacy: bool = False  # compared on the analysis keys only (a version-1 reference)

    @property
    def changed(self) -> bool:
        return self.old_digest is not None and self.old_digest != self.digest

    @property
    def logged_in_base(self) -> bool:
        return (
            self.changed
            and not self.keys
            and bool(self.old_base)
            and any(logs(c, self.old_base) for c in self.base_changes)
        )

    @property
    def logged(self) -> bool:
        return self.changed and (
            any(logs(c, self.old_digest or "") for c in self.changes) or self.logged_in_base
        )

    @property
    def unlogged(self) -> bool:
        return self.changed and not self.logged

    def line(self, touches: int = 1) -> str:
        """The one-line refusal: file, first changed key, both digests, the missing entry. A change
        inherited from the base file is named in the base file."""
        if not self.keys and self.old_base:
            first = self.inherited[0] if self.inherited else "setting"
            more = f" (and {len(self.inherited) - 1} more)" if len(self.inherited) > 1 else ""
            return (
                f"{self.base_path}: {first}{more}: changed since the reference run, "
                f"re-planning {touches} claim{'s' if touches != 1 else ''} "
                f"(first {self.claim_id}), "
                f"with no [[changes]] entry in {self.base_path} for old_plan {self.old_base} "
                f"(or in each claim file for its own old plan)"
            )
        keys = self.keys + self.inherited
        key = (
            keys[0] + (f" (and {len(keys) - 1} more)" if len(keys) > 1 else "") if keys else "plan"
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

    def touches(self, status: PlanStatus) -> int:
        """How many claims an unlogged change inherited from the same base file re-plans."""
        return sum(
            1
            for s in self.unlogged
            if s.base_path == status.base_path and not s.keys and s.old_base == status.old_base
        )

    def refusal(self) -> str | None:
        """The one line `enforce` refuses with (the first unlogged change), or None."""
        return self.unlogged[0].line(self.touches(self.unlogged[0])) if self.unlogged else None


def _old_plan(ref: Reference, path: Path, rv: dict[str, Any]) -> tuple[str, dict | None]:
    """(digest, fields or None) of the reference verdict's plan: stored, else from git at the
    reference commit (as a version-1 plan where the stored digest is one)."""
    stored, fields = rv.get("plan_digest"), rv.get("plan")
    if isinstance(fields, dict) and stored == plan_digest(fields):
        return stored, fields
    try:
        old = _git_plan(ref, path)
    except GitUnavailable:
        if stored:
            return str(stored), None
        raise
    if old is None:
        if stored:
            return str(stored), None
        raise FileNotFoundError(f"{path.name} is not in commit {ref.commit[:12]}")
    if stored:
        for candidate in (old, legacy_plan(old)):
            if plan_digest(candidate) == stored:
                return str(stored), candidate
        return str(stored), None
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


def _current(path: Path, profile: str) -> tuple[dict, dict, Path, dict]:
    raw = load_toml(path)
    base_path = path.parent / raw.get("base", "_base.toml")
    base = load_toml(base_path) if base_path.is_file() else {}
    return raw, resolve_plan(raw, base, profile), base_path, base


LEGACY_WARNING = (
    "the reference run {folder} predates plans that hold the setting, eval values, readings and "
    "base file (plan version 1): only the analysis keys (kind, metric, prediction, grid, select, "
    "replicates, form) are checked until it is regenerated"
)


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
        raw, plan, base_path, base = _current(path, profile)
        status = PlanStatus(
            str(raw.get("id", path.stem)),
            str(path),
            plan_digest(plan),
            changes_of(raw),
            base_path=str(base_path),
            base_changes=changes_of(base),
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
        stored = rv.get("plan")
        stored_v2 = isinstance(stored, dict) and "version" in stored
        if is_legacy(old) or (old is None and not stored_v2):
            status.legacy, plan = True, legacy_plan(plan)
            status.digest = plan_digest(plan)
            msg = LEGACY_WARNING.format(folder=ref.folder)
            warnings += [msg] if msg not in warnings else []
        if old is not None:
            status.old_base = "" if status.legacy else str(old.get("base", ""))
            for f in changed_fields(old, plan):
                if set_in_claim(raw, profile, f):
                    status.keys.append(file_key(raw, profile, f))
                elif f[0] != "base":
                    status.inherited.append(toml_key(*f))
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
    refusal = result.refusal()
    if refusal:
        raise ClaimError(refusal)
    return result
