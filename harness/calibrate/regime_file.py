"""Write a calibrated regime into `claims/_regimes.toml`, the ledger way: the file is regenerated
with every regime it held, the new one's values, and a `[[regime.NAME.changes]]` entry that records
the date, the commit, the search log and the values it replaces (nothing is overwritten silently).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

from harness.claims.regime import DEFAULT, REGIME_FILE, Regime, RegimePart, load_regimes
from harness.core.jsonio import atomic_write_text

HEADER = """\
# Named regimes (harness/claims/regime.py): a setting applied to every claim with
# `iclcheck run --regime NAME` (pytest: --iclcheck-regime NAME). A regime's values override the
# base setting, the claim's own and its profile's, except the axes a claim varies in its grid.
# Written by `iclcheck calibrate` from claims/_calibration.toml; each change is logged below its
# regime as [[regime.NAME.changes]], with the search log that chose it.
"""


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def render(regimes: dict[str, Regime]) -> str:
    """The regimes file's text (the built-in `default` left out)."""
    out = [HEADER]
    for name, r in regimes.items():
        if name == DEFAULT:
            continue
        out += [f"[regime.{name}]", f"why = {_toml_value(r.why)}"]
        if r.search_log:
            out.append(f"search_log = {_toml_value(r.search_log)}")
        if r.score is not None and math.isfinite(r.score):
            out.append(f"score = {r.score!r}")
        for p in r.parts:
            out += ["", f"[[regime.{name}.part]]"]
            if p.applies_to:
                out.append(f"applies_to = {_toml_value(list(p.applies_to))}")
            out.append(f"[regime.{name}.part.set]")
            out += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in p.set.items()]
        for ch in r.changes:
            out += ["", f"[[regime.{name}.changes]]"]
            for k, v in ch.items():
                if isinstance(v, list) and v:  # one value a line: no line needs a scroll bar
                    out += [f"{k} = [", *(f"  {_toml_value(x)}," for x in v), "]"]
                else:
                    out.append(f"{k} = {_toml_value(v)}")
        out.append("")
    return "\n".join(out)


def write_regime(
    folder: str | Path,
    name: str,
    why: str,
    parts: list[RegimePart],
    search_log: str,
    score: float,
    commit: str,
) -> Path:
    """Put regime `name` into folder/_regimes.toml with a change entry; returns the file's path."""
    regimes = load_regimes(folder)
    old = regimes.get(name)
    before = (
        [
            f"{','.join(p.applies_to) or 'all'}: {k} = {v!r}"
            for p in old.parts
            for k, v in p.set.items()
        ]
        if old
        else ["none (a new regime)"]
    )
    change = {
        "date": _dt.date.today().isoformat(),
        "commit": commit,
        "what": f"calibrated by iclcheck calibrate, score {score:.4g}",
        "search_log": search_log,
        "old": before,
    }
    regimes[name] = Regime(
        name,
        why,
        tuple(parts),
        search_log,
        score,
        (*(old.changes if old else ()), change),
    )
    path = Path(folder) / REGIME_FILE
    atomic_write_text(path, render(regimes))
    return path


__all__ = ["write_regime", "render"]
