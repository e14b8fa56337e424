"""Comparing runs: verdict flips and estimate drifts between a baseline run and a new one, and
across many.

A nightly run is only useful against something: this module says what changed since the baseline
(yesterday's run of the same profile, or a committed reference), which changes should turn the job
red, and writes the result as compare.json and a short Markdown summary.

- **flip**: the claim's verdict differs between the two runs.
- **unexpected flip**: a flip whose new verdict does not match the claim's
  recorded expectation, and that is a step down: the new verdict is REFUTED or ERROR, or the
  baseline was CONFIRMED (CONFIRMED -> INCONCLUSIVE). Steps up (REFUTED -> INCONCLUSIVE,
  INCONCLUSIVE -> CONFIRMED, ...) are flips, never unexpected.
- **drift**: the claim's estimate (the number its verdict rests on: exponent,
  worst-point error rate, mean paired difference, Spearman rho, mean) moved by more than `threshold`
  combined standard errors: z = (new - old) / hypot(se_old, se_new) (Estimate.drift_z), for every
  kind. Runs written before verdicts carried estimates are compared on verdicts only, and the
  comparison says so.

Runs of different profiles measure different grids and replicates: comparing them raises
RunMismatchError unless allowed. A different device only warns."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness.core.jsonio import atomic_write_text
from harness.report.run_folders import StoredRun, StoredVerdict, load_run, load_runs

DRIFT_Z = 3.0  # |z| above this flags a drift
FAIL_ON = ("flip", "any-change", "never")
COMPARE_SCHEMA = 2  # 2: `not_run` (the baseline's claims not run) for `removed`


class RunMismatchError(ValueError):
    """Two runs that should not be compared (different profiles): one line naming both."""


def unexpected_flip(old: str, new: str, expected: Any = None) -> bool:
    """Whether a change of verdict old -> new is a step down that the claim's recorded expectation
    does not explain."""
    if old == new or (expected and expected[0] == new):
        return False
    return new in ("REFUTED", "ERROR") or old == "CONFIRMED"


@dataclass
class ClaimChange:
    """One claim in both runs (or in one: `baseline` is None for an added claim, `new` None for one
    the new run did not run: a run of a subset, or a claim since removed)."""

    claim_id: str
    baseline: str | None
    new: str | None
    expected: str | None = None  # the new run's recorded expectation
    flip: bool = False
    unexpected: bool = False
    estimate: str | None = None  # the estimate's name
    old_value: float | None = None
    new_value: float | None = None
    # drift z-score; None when either run has no estimate or no standard error
    z: float | None = None
    drift: bool = False
    note: str = ""

    def change(self) -> str:
        """The change in a few words ('' when none; a claim not run is no change: the run did not
        judge it, see Comparison.not_run)."""
        parts = []
        if self.baseline is None:
            parts.append("added")
        elif self.flip:
            parts.append(
                ("UNEXPECTED flip " if self.unexpected else "flip ")
                + f"{self.baseline} -> {self.new}"
            )
        if self.drift:
            parts.append(
                f"drift z={self.z:+.1f} ({self.estimate} {self.old_value:.4g} -> "
                f"{self.new_value:.4g})"
            )
        return "; ".join(parts)


@dataclass
class Comparison:
    """What changed from `baseline` to `new` (run folders), claim by claim."""

    baseline: dict[str, Any]  # {path, profile, device, git_commit, started}
    new: dict[str, Any]
    threshold: float
    claims: list[ClaimChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    estimates_missing: bool = False

    @property
    def flips(self) -> list[ClaimChange]:
        return [c for c in self.claims if c.flip]

    @property
    def unexpected_flips(self) -> list[ClaimChange]:
        return [c for c in self.claims if c.unexpected]

    @property
    def drifts(self) -> list[ClaimChange]:
        return [c for c in self.claims if c.drift]

    @property
    def added(self) -> list[str]:
        return [c.claim_id for c in self.claims if c.baseline is None]

    @property
    def not_run(self) -> list[str]:
        """The baseline's claims the new run did not judge (it ran a subset, or they are gone)."""
        return [c.claim_id for c in self.claims if c.new is None]

    def not_run_line(self, cols: int = 100) -> str:
        """'N claims not run: a, b, ...' within `cols` characters ('' when every claim ran)."""
        ids = self.not_run
        if not ids:
            return ""
        head = f"{len(ids)} claim{'s' if len(ids) != 1 else ''} of the baseline not run"
        listed = f"{head}: {', '.join(ids)}"
        return listed if len(listed) <= cols else head + " (compare.json lists them)"

    def counts(self) -> dict[str, int]:
        return {
            "claims": sum(c.new is not None for c in self.claims),  # judged by the new run
            "flips": len(self.flips),
            "unexpected_flips": len(self.unexpected_flips),
            "drifts": len(self.drifts),
            "added": len(self.added),
            "not_run": len(self.not_run),
        }

    def failed(self, fail_on: str = "flip") -> bool:
        """Whether the comparison turns a job red: 'flip' an unexpected flip; 'any-change' any flip,
        drift or added claim (a claim of the baseline not run is none); 'never' never."""
        if fail_on not in FAIL_ON:
            raise ValueError(f"--fail-on {fail_on!r}: must be one of {', '.join(FAIL_ON)}")
        if fail_on == "never":
            return False
        if fail_on == "flip":
            return bool(self.unexpected_flips)
        return any(c.change() for c in self.claims)

    def to_json(self) -> dict[str, Any]:
        """compare.json: both runs, the threshold, the counts, the warnings and every claim
        (NaN-free)."""
        return {
            "schema_version": COMPARE_SCHEMA,
            "baseline": self.baseline,
            "new": self.new,
            "drift_threshold_z": self.threshold,
            "estimates_missing": self.estimates_missing,
            "warnings": self.warnings,
            "counts": self.counts(),
            "flips": [c.claim_id for c in self.flips],
            "unexpected_flips": [c.claim_id for c in self.unexpected_flips],
            "drifts": [c.claim_id for c in self.drifts],
            "added": self.added,
            "not_run": self.not_run,
            "claims": [asdict(c) for c in self.claims],
        }

    def to_markdown(self, links: dict[str, str] | None = None) -> str:
        """A job summary: the runs, warnings, counts, a table of the claims that changed, and
        `links` (label -> href)."""
        b, n = self.baseline, self.new
        k = self.counts()
        lines = [f"## iclcheck: profile `{n.get('profile')}` against its baseline", ""]
        lines += [f"> **warning:** {w}" for w in self.warnings] + ([""] if self.warnings else [])
        lines += [
            f"- new run `{Path(n['path']).name}`: commit `{str(n.get('git_commit'))[:10]}`, device "
            f"`{n.get('device')}`",
            f"- baseline `{b['path']}`: commit `{str(b.get('git_commit'))[:10]}`, device "
            f"`{b.get('device')}`, "
            f"profile `{b.get('profile')}`",
            f"- {k['claims']} claims: {k['flips']} flips ({k['unexpected_flips']} unexpected), "
            f"{k['drifts']} drifts (|z| > {self.threshold:g}), {k['added']} added",
            *([f"- {self.not_run_line()}"] if self.not_run else []),
            "",
        ]
        changed = [c for c in self.claims if c.change()]
        if changed:
            lines += [
                tabulate(
                    [[c.claim_id, c.baseline or "-", c.new or "-", c.change()] for c in changed],
                    headers=["claim", "baseline", "new", "change"],
                    tablefmt="github",
                ),
                "",
            ]
        else:
            lines += ["No verdict flips, no drifts.", ""]
        if links:
            lines.append(
                "Links: " + ", ".join(f"[{label}]({href})" for label, href in links.items())
            )
        return "\n".join(lines).rstrip() + "\n"


def _side(path: str | Path, run: StoredRun) -> dict[str, Any]:
    m = run.meta
    return {
        "path": str(path),
        "profile": m.get("profile"),
        "device": m.get("device"),
        "git_commit": m.get("git_commit"),
        "started": m.get("started"),
        "schema_version": run.schema_version,
    }


def check_profiles(
    baseline_path: str | Path, baseline_profile: Any, new_profile: Any, allow_mismatch: bool = False
) -> str | None:
    """RunMismatchError when the profiles differ (unless allowed); a warning when they differ but
    are allowed, or when either is unknown; None when they match."""
    if baseline_profile is None or new_profile is None:
        return (
            f"profile unknown for {'the baseline' if baseline_profile is None else 'the new run'}: "
            "cannot check that both ran the same grids"
        )
    if baseline_profile == new_profile:
        return None
    msg = (
        f"profile mismatch: baseline {baseline_path} is profile '{baseline_profile}', the new run "
        f"'{new_profile}'"
    )
    if not allow_mismatch:
        raise RunMismatchError(
            msg + " (different grids and replicates; --allow-mismatch compares them anyway)"
        )
    return msg + " (compared anyway: --allow-mismatch)"


def compare_claim(
    cid: str, old: StoredVerdict | None, new: StoredVerdict | None, threshold: float
) -> ClaimChange:
    """One claim's change: flip, unexpectedness, drift z-score from the stored estimates."""
    expected = new.expected if new is not None else None
    c = ClaimChange(
        cid,
        old.verdict if old is not None else None,
        new.verdict if new is not None else None,
        expected[0] if expected else None,
    )
    if old is None or new is None:
        return c
    c.flip = c.baseline != c.new
    c.unexpected = unexpected_flip(c.baseline, c.new, expected)
    eo, en = old.estimate, new.estimate
    if eo is None or en is None:
        c.note = "no estimate in " + " or ".join(
            s for s, e in (("the baseline", eo), ("the new run", en)) if e is None
        )
        return c
    c.estimate, c.old_value, c.new_value = en.name, eo.value, en.value
    if eo.name != en.name:
        c.note = f"estimate changed from '{eo.name}' to '{en.name}': no z-score"
        return c
    if eo.value == en.value:  # the same number: no drift, whatever the standard errors
        c.z, c.note = 0.0, "equal"
        return c
    z = eo.drift_z(en)
    if math.isfinite(z):
        c.z, c.drift = z, abs(z) > threshold
    else:
        c.note = "no standard error: no z-score"
    return c


def compare(
    baseline_run: str | Path,
    new_run: str | Path,
    threshold: float = DRIFT_Z,
    allow_mismatch: bool = False,
) -> Comparison:
    """Compare two run folders (RunFolderError naming an unreadable one; RunMismatchError on a
    profile mismatch)."""
    rb, rn = load_run(baseline_run), load_run(new_run)
    b, n = _side(baseline_run, rb), _side(new_run, rn)
    cmp = Comparison(b, n, threshold)
    warn = check_profiles(baseline_run, b["profile"], n["profile"], allow_mismatch)
    if warn:
        cmp.warnings.append(warn)
    if b["device"] != n["device"]:
        cmp.warnings.append(
            f"device differs: baseline '{b['device']}', new run '{n['device']}': "
            "timings and floating-point results may differ, drifts may come from the machine"
        )
    vb = {v.claim_id: v for v in rb.verdicts}
    vn = {v.claim_id: v for v in rn.verdicts}
    cmp.claims = [
        compare_claim(cid, vb.get(cid), vn.get(cid), threshold) for cid in sorted(set(vb) | set(vn))
    ]
    old_format = [
        name for name, r in (("the baseline", rb), ("the new run", rn)) if not r.has_estimates
    ]
    if old_format:
        cmp.estimates_missing = True
        who = "both runs predate" if len(old_format) == 2 else f"{old_format[0]} predates"
        cmp.warnings.append(
            f"estimates missing: {who} structured estimates (verdicts.json without 'estimate'): "
            "verdicts compared, no drift check"
        )
    return cmp


def write_comparison(
    cmp: Comparison, folder: str | Path, links: dict[str, str] | None = None
) -> tuple[Path, Path]:
    """compare.json and summary.md in `folder`; returns both paths."""
    folder = Path(folder)
    j, s = folder / "compare.json", folder / "summary.md"
    atomic_write_text(j, comparison_json(cmp))
    atomic_write_text(s, cmp.to_markdown(links))
    return j, s


def comparison_json(cmp: Comparison) -> str:
    """compare.json's text: strict JSON (a non-finite number is null)."""
    return json.dumps(_finite(cmp.to_json()), indent=1, allow_nan=False) + "\n"


def _finite(x: Any) -> Any:
    """`x` with every non-finite float replaced by None (strict JSON)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def terminal_rows(cmp: Comparison) -> list[tuple[str, str, str]]:
    """(claim, verdict, change) for terminal.table, for the claims the new run judged (those it did
    not run are one line, Comparison.not_run_line): the verdict as 'OLD -> NEW' when it flipped; the
    change, else the z-score, else why there is none (left out when a whole run has no estimates:
    cmp.warnings says so)."""

    def verdict(c: ClaimChange) -> str:
        return c.new if c.baseline == c.new else f"{c.baseline or '-'} -> {c.new or '-'}"

    def detail(c: ClaimChange) -> str:
        if c.change():
            return c.change()
        if c.note == "equal":
            return "equal"
        return f"z={c.z:+.1f}" if c.z is not None else ("" if cmp.estimates_missing else c.note)

    return [(c.claim_id, verdict(c), detail(c)) for c in cmp.claims if c.new is not None]


def history(
    run_dirs: list[str | Path],
    warn: Callable[[str], None] | None = None,
    threshold: float = DRIFT_Z,
) -> str:
    """Verdicts and estimates of every claim across runs in the given order, each against the
    previous run by the same rules as `compare`: `*` the verdict flipped, `~` the estimate drifted
    (|z| > threshold). An unreadable run folder is left out with `warn(message)`."""
    loaded = load_runs(run_dirs, warn)
    claims = sorted({v.claim_id for _, r in loaded for v in r.verdicts})
    rows = []
    for cid in claims:
        row, prev = [cid], None
        for _, r in loaded:
            v = r.verdict(cid)
            if v is None:
                row.append("-")
                continue
            e = v.estimate
            cell = v.verdict + (f" {e.value:.3g}" if e else "")
            if prev is not None:
                c = compare_claim(cid, prev, v, threshold)
                cell = ("*" if c.flip else "") + ("~" if c.drift else "") + cell
            prev = v
            row.append(cell)
        rows.append(row)
    return tabulate(rows, headers=["claim"] + [Path(d).name for d, _ in loaded], tablefmt="github")
