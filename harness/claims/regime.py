"""Named regimes: one setting applied to every claim, such as `paper`, the setting calibrated on the
paper's own figures (`iclcheck calibrate`, harness.calibrate).

`claims/_regimes.toml` declares each `[regime.NAME]`: `why`, where it came from (`search_log`, the
committed log of the search that chose it; `score`, its objective there), and its `[[regime.NAME.
part]]` tables, each a `set` of dotted setting keys with an optional `applies_to` (claim ids, kinds
or tags such as `arch:deep`, as the multiverse's alternatives). A regime's values override the base
setting, the claim's own and its profile's, except the axes a claim varies in its grid: those stay
the claim's (the experiment is the claim's; the world around it is the regime's). The regime
`default` is no override at all. Every problem is one line naming the file and key."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.claims.claim import Claim, axis_known
from harness.claims.errors import ClaimError, check_table, check_type, fail, suggest
from harness.claims.multiverse_derive import claim_tags, invalid_reason
from harness.claims.schema import load_toml
from harness.world.config import split_name

REGIME_FILE = "_regimes.toml"
DEFAULT = "default"
REGIME_KEYS = {"why": str, "search_log": str, "score": float, "part": list, "changes": list}
PART_KEYS = {"set": dict, "applies_to": list}


@dataclass(frozen=True)
class RegimePart:
    """Setting overrides for the claims `applies_to` matches (every claim when empty)."""

    set: dict[str, Any]
    applies_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Regime:
    name: str
    why: str
    parts: tuple[RegimePart, ...] = ()
    search_log: str = ""
    score: float | None = None
    changes: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def values_for(self, c: Claim) -> dict[str, Any]:
        """The overrides this regime sets for `c` (later parts win)."""
        tags = claim_tags(c)
        out: dict[str, Any] = {}
        for p in self.parts:
            if not p.applies_to or set(p.applies_to) & tags:
                out.update(p.set)
        return out


def _part(path: Path, key: str, raw: Any) -> RegimePart:
    check_type(path, key, raw, dict)
    check_table(path, key, raw, PART_KEYS)
    values = raw.get("set", {})
    for dotted in values:
        if not axis_known(dotted) or split_name(dotted)[0] not in ("data", "model", "train"):
            fail(path, f"{key}.set.{dotted}", "not a data, model or train setting")
    return RegimePart(dict(values), tuple(str(a) for a in raw.get("applies_to", [])))


def load_regimes(folder: str | Path) -> dict[str, Regime]:
    """Every regime of `folder/_regimes.toml` (only `default` when there is no such file)."""
    path = Path(folder) / REGIME_FILE
    out = {DEFAULT: Regime(DEFAULT, "the claim files' own setting, no override")}
    if not path.is_file():
        return out
    raw = load_toml(path)
    for name, body in raw.get("regime", {}).items():
        key = f"regime.{name}"
        check_type(path, key, body, dict)
        check_table(path, key, body, REGIME_KEYS)
        if name == DEFAULT:
            fail(path, key, "'default' is the claim files' own setting and cannot be redefined")
        if "why" not in body:
            fail(path, f"{key}.why", "missing (why the regime is defensible)")
        parts = tuple(
            _part(path, f"{key}.part[{i}]", p) for i, p in enumerate(body.get("part", []))
        )
        out[name] = Regime(
            name,
            body["why"],
            parts,
            body.get("search_log", ""),
            body.get("score"),
            tuple(body.get("changes", [])),
        )
    return out


def regime_named(folder: str | Path, name: str | None) -> Regime:
    """The regime `name` of `folder` (default when None); one line naming the file when unknown."""
    regimes = load_regimes(folder)
    name = name or DEFAULT
    if name not in regimes:
        raise ClaimError(
            f"{Path(folder) / REGIME_FILE}: regime.{name}: unknown regime"
            + suggest(name, list(regimes))
        )
    return regimes[name]


def _readings_under(c: Claim, name: str, values: dict[str, Any]) -> dict[str, str]:
    """The claim's named readings with each one the regime overrides saying so, so that a report
    never names the file's reading for a value the run did not use."""
    short = {split_name(dotted)[1]: v for dotted, v in values.items()}
    return {
        k: f"{short[k]!r}, set by regime {name} (the claim file reads: {text})"
        if k in short
        else text
        for k, text in c.readings.items()
    }


def apply_regime(c: Claim, regime: Regime) -> Claim:
    """The claim under `regime` (the claim itself under `default`); a value that makes the claim's
    setting invalid is one line naming the claim file and the key."""
    values = {k: v for k, v in regime.values_for(c).items() if k not in c.axis_names}
    if not values:
        return dataclasses.replace(c, regime=regime.name)
    base = copy.deepcopy(c.base_run)
    for dotted, v in values.items():
        sec, k = split_name(dotted)
        base.setdefault(sec, {})[k] = v
    d = dataclasses.replace(
        c, base_run=base, regime=regime.name, readings=_readings_under(c, regime.name, values)
    )
    problem = invalid_reason(d)
    if problem:
        raise ClaimError(f"{c.path}: regime {regime.name}: {problem}")
    return d


__all__ = ["Regime", "RegimePart", "load_regimes", "regime_named", "apply_regime", "DEFAULT"]
