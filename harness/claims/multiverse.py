"""The multiverse of a claim: the defensible alternatives to our own choices, declared once, and
their validation.

`claims/_multiverse.toml` lists every `[[alternative]]`: a `name`, `why` it is defensible, and what
it changes, one or more of
- `set = { "data.beta" = 2.0 }`: setting overrides, with the dotted keys claim grids use;
- `metric = "hinge_loss"`: the claim's metric read another way (skipped, with the reason, while no
  such metric is
  registered);
- `fit_range = "lower_half" | "upper_half"` (or "all"): rate claims fit only that part of the swept
  x values;
- `steps_scale = 3`: the step budget times this factor;
- `worlds = "pooled" | "each"`: how the seeds of different worlds are judged (a judging reading:
  trains and measures nothing new);
and optionally `applies_to`, a list of claim ids, kinds or tags (`metric:NAME`, `domain:id|ood`,
`arch:NAME`).

A claim file may narrow the set: `[multiverse] skip = { "beta-2" = "reason" }`. Every problem is one
line naming the file and key (ClaimError). Deriving a claim under an alternative:
harness.claims.multiverse_derive."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.claims import checks
from harness.claims.claim import axis_known
from harness.claims.errors import check_type, fail, suggest
from harness.claims.schema import load_toml
from harness.world.config import split_name

MULTIVERSE_FILE = "_multiverse.toml"
ALT_KEYS = {
    "name": str,
    "why": str,
    "set": dict,
    "metric": str,
    "fit_range": str,
    "steps_scale": float,
    "worlds": str,
    "applies_to": list,
}
CHANGES = ("set", "metric", "fit_range", "steps_scale", "worlds")
FIT_RANGES = ("all", "lower_half", "upper_half")
NARROW_KEYS = {"skip": dict}
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Alternative:
    """One defensible alternative to one of our choices (a [choose] value, a reading, the
    analysis)."""

    name: str
    why: str
    set: dict[str, Any] = field(default_factory=dict)  # dotted setting key -> value
    metric: str = ""  # another metric name ("" keeps the claim's)
    fit_range: str = ""  # "", "all", "lower_half", "upper_half"
    steps_scale: float = 0.0  # 0 keeps the step budget
    worlds: str = ""  # another `[metric] worlds` reading ("" keeps the claim's)
    applies_to: tuple[str, ...] = ()  # claim ids, kinds or tags; empty: every claim

    def change(self) -> str:
        """What it changes, in words (for tables)."""
        parts = [f"{k} = {v!r}" for k, v in self.set.items()]
        if self.metric:
            parts.append(f"metric {self.metric}")
        if self.fit_range:
            parts.append(f"fit range {self.fit_range}")
        if self.steps_scale:
            parts.append(f"steps x {self.steps_scale:g}")
        if self.worlds:
            parts.append(f"worlds {self.worlds}")
        return ", ".join(parts)


def _alternative(path: Path, i: int, raw: Any) -> Alternative:
    where = f"alternative[{i}]"
    if not isinstance(raw, dict):
        fail(path, where, f"must be a table, got {type(raw).__name__}")
    name = raw.get("name")
    if name is None:
        fail(path, f"{where}.name", "missing (every alternative has a name)")
    check_type(path, f"{where}.name", name, str)
    if not SAFE_NAME.fullmatch(name):
        fail(
            path, f"{where}.name", f"{name!r} is not a simple name (letters, digits, '-', '_', '.')"
        )
    where = f"alternative.{name}"
    for k, v in raw.items():
        if k not in ALT_KEYS:
            fail(path, f"{where}.{k}", "unknown key" + suggest(k, ALT_KEYS))
        check_type(path, f"{where}.{k}", v, ALT_KEYS[k])
    if not str(raw.get("why", "")).strip():
        fail(path, f"{where}.why", "missing (say why the alternative is defensible)")
    if not any(k in raw for k in CHANGES):
        fail(path, where, f"changes nothing: give one of {', '.join(CHANGES)}")
    nested: dict[str, dict[str, Any]] = {}
    for key, value in raw.get("set", {}).items():
        if not axis_known(key) or split_name(key)[0] not in ("data", "model", "train"):
            fail(path, f"{where}.set.{key}", "not a setting key (data.*, model.*, train.*)")
        sec, k = split_name(key)
        nested.setdefault(sec, {})[k] = value
    checks.check_setting_values(path, f"{where}.set.", nested)
    if raw.get("fit_range", "all") not in FIT_RANGES:
        fail(
            path,
            f"{where}.fit_range",
            f"must be one of {', '.join(FIT_RANGES)}, got {raw['fit_range']!r}",
        )
    if "steps_scale" in raw and not raw["steps_scale"] > 0:
        fail(path, f"{where}.steps_scale", f"must be > 0, got {raw['steps_scale']}")
    if "worlds" in raw:
        checks.check_worlds(path, {"worlds": raw["worlds"]})
    for t in raw.get("applies_to", []):
        check_type(path, f"{where}.applies_to", t, str)
    return Alternative(
        name,
        raw["why"].strip(),
        dict(raw.get("set", {})),
        raw.get("metric", ""),
        raw.get("fit_range", ""),
        float(raw.get("steps_scale", 0.0)),
        raw.get("worlds", ""),
        tuple(raw.get("applies_to", ())),
    )


def load_alternatives(path: str | Path) -> list[Alternative]:
    """Every alternative of a multiverse file, validated; ClaimError (one line: file and key) on any
    problem."""
    path = Path(path)
    raw = load_toml(path)
    for k in raw:
        if k != "alternative":
            fail(path, k, "unknown key (a multiverse file holds [[alternative]] tables only)")
    alts = raw.get("alternative", [])
    if not isinstance(alts, list) or not alts:
        fail(path, "alternative", "no [[alternative]] tables")
    out: list[Alternative] = []
    for i, a in enumerate(alts):
        alt = _alternative(path, i, a)
        if any(o.name == alt.name for o in out):
            fail(path, f"alternative.{alt.name}.name", "declared twice")
        out.append(alt)
    return out


def load_narrowing(claim_path: str | Path, names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The claim file's `[multiverse] skip = { name = "reason" }`: alternative name -> reason;
    ClaimError on an unknown name or a skip without a reason."""
    path = Path(claim_path)
    table = load_toml(path).get("multiverse", {})
    if not isinstance(table, dict):
        fail(path, "multiverse", f"must be a table, got {type(table).__name__}")
    for k in table:
        if k not in NARROW_KEYS:
            fail(path, f"multiverse.{k}", "unknown key" + suggest(k, NARROW_KEYS))
    skip = table.get("skip", {})
    if not isinstance(skip, dict):
        fail(
            path,
            "multiverse.skip",
            'must be a table of name = "reason" (every skip states its reason)',
        )
    for name, reason in skip.items():
        if name not in names:
            fail(path, f"multiverse.skip.{name}", "unknown alternative" + suggest(name, names))
        if not isinstance(reason, str) or not reason.strip():
            fail(path, f"multiverse.skip.{name}", "needs a reason (a non-empty string)")
    return {k: v.strip() for k, v in skip.items()}


def find_multiverse_file(claim_paths: list[str], default_dir: Path) -> Path | None:
    """The multiverse file beside the first claim file, else in the default claims folder; None when
    there is none."""
    for p in [Path(c).parent / MULTIVERSE_FILE for c in claim_paths[:1]] + [
        Path(default_dir) / MULTIVERSE_FILE
    ]:
        if p.is_file():
            return p
    return None


def check_narrowings(claim_paths: list[str], default_dir: Path) -> None:
    """Every claim's `[multiverse]` table against the multiverse file found for them (none found: no
    alternative names, so any skip is unknown); ClaimError on the first problem. Run by every
    command that loads claims."""
    mv = find_multiverse_file(claim_paths, default_dir)
    names = [a.name for a in load_alternatives(mv)] if mv else []
    for p in claim_paths:
        load_narrowing(p, names)


__all__ = [
    "Alternative",
    "load_alternatives",
    "load_narrowing",
    "find_multiverse_file",
    "check_narrowings",
    "MULTIVERSE_FILE",
]
