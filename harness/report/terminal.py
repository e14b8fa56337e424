"""Terminal output that fits the terminal: a compact verdict table and one-line reasons.

The full prediction, measurement and interval go to the report; the terminal
gets the claim, its verdict and a short "measured ... vs predicted ..." that is
cut to the width ($COLUMNS, else the terminal's, else 100 columns).
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Iterable

from harness.report import ledger_section

DEFAULT_WIDTH = 100
MIN_WIDTH = 60


def width(requested: int | None = None) -> int:
    """Columns to fit: `requested`, else $COLUMNS, else the terminal's, else 100 (never under 60)."""
    if requested:
        return max(MIN_WIDTH, requested)
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return max(MIN_WIDTH, int(env))
    return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def clip(text: Any, n: int) -> str:
    """`text` on one line, at most n characters ("..." marks a cut)."""
    s = " ".join(str(text).split())
    if n <= 3:
        return s[:max(0, n)]
    return s if len(s) <= n else s[: n - 3].rstrip() + "..."


def short_path(path: Any) -> str:
    """A path as short as it reads: relative to the working directory when it lies below it."""
    p = os.path.abspath(str(path))
    rel = os.path.relpath(p)
    return rel if not rel.startswith("..") else p


def outcome_name(verdict: str, expected: tuple[str, str] | list | None) -> str:
    """The one name of an outcome: the verdict, with "(recorded)" when it matches the recorded expectation."""
    return f"{verdict} (recorded)" if expected and expected[0] == verdict else verdict


def short_measurement(measurement: str, prediction: str) -> str:
    """"measured M | predicted P": both cut to their first clause (before ';'), the report has the rest."""
    return f"measured {measurement.split(';')[0]} | predicted {prediction.split(';')[0]}"


def table(rows: Iterable[tuple[str, str, str]], cols: int | None = None,
          headers: tuple[str, str, str] = ("claim", "verdict", "measured vs predicted")) -> str:
    """Rows of three columns (claim, outcome, detail by default) as a table no line of which is wider than `cols`."""
    rows = list(rows)
    w = width(cols)
    cid = min(max([5] + [len(r[0]) for r in rows]), 28)
    out = min(max([7] + [len(r[1]) for r in rows]), 24)
    rest = max(10, w - cid - out - 4)
    lines = [f"{headers[0]:<{cid}}  {headers[1]:<{out}}  {clip(headers[2], rest)}",
             f"{'-' * cid}  {'-' * out}  {'-' * min(rest, 21)}"]
    lines += [f"{clip(a, cid):<{cid}}  {clip(b, out):<{out}}  {clip(c, rest)}".rstrip() for a, b, c in rows]
    return "\n".join(line[:w] for line in lines)


def detail(v: Any) -> str:
    """The third column for a Verdict or a stored verdict dict: the short measurement, after the re-planning mark
    ("re-planned after INCONCLUSIVE at ee948af | measured ...") when the claim's plan changed after a verdict."""
    f = ledger_section.field_of
    mark = ledger_section.marker(v, short=True)
    return (f"{mark} | " if mark else "") + short_measurement(f(v, "measurement", ""), f(v, "prediction", ""))


def verdict_table(verdicts: Iterable[Any], cols: int | None = None) -> str:
    """The compact table of Verdict objects (claim, outcome, short measurement against prediction)."""
    return table(((v.claim_id, outcome_name(v.verdict, v.expected), detail(v)) for v in verdicts), cols)
