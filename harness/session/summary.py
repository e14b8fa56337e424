"""What a finished run prints: the verdict table, the multiverse line and the totals, the same
lines on the command line and in pytest's terminal summary."""

from __future__ import annotations

import textwrap

from harness.report import terminal
from harness.session.session import RunResult


def flips_lines(result: RunResult) -> list[str]:
    """Per claim the multiverse alternatives that flip its verdict (the table gives the label)."""
    lines = []
    for cid, block in (result.multiverse or {}).items():
        if block["flips"]:
            verdict_of = {r["name"]: r["verdict"] for r in block["alternatives"]}
            lines.append(
                f"  {cid} flipped by: "
                + ", ".join(f"{n} -> {verdict_of.get(n)}" for n in block["flips"])
            )
    return lines


def totals_lines(result: RunResult) -> list[str]:
    """Claims by verdict; models trained and reused, seconds (two lines, each within 100
    columns)."""
    m = result.meta
    return [
        f"{len(result.verdicts)} claims: "
        + ", ".join(f"{n} {s}" for s, n in result.counts().items()),
        f"{m['models_trained']} models trained, {m.get('models_measured', 0)} measured on stored "
        f"models, {m['models_reused']} records reused ({m.get('units_requested', '?')} claim "
        f"units) | {result.seconds:.0f} s",
    ]


def fit(lines: list[str], cols: int | None = None) -> list[str]:
    """`lines` (each may hold newlines) wrapped to the terminal's width, a continuation indented."""
    w = terminal.width(cols)
    out: list[str] = []
    for line in (part for text in lines for part in text.split("\n")):
        out += textwrap.wrap(line, w, subsequent_indent="    ", break_on_hyphens=False) or [""]
    return out


def summary_lines(result: RunResult, cols: int | None = None) -> list[str]:
    """The verdict table, the multiverse (lines and flips), the totals and the report's path, no
    line wider than the terminal (100 columns by default)."""
    lines = [terminal.verdict_table(result.verdicts, cols, robustness=result.labels())]
    tail = []
    if result.multiverse_totals:
        tail += [result.multiverse_totals.line(), *flips_lines(result)]
    tail += ["", *totals_lines(result)]
    if result.report:
        tail.append(f"report: {terminal.short_path(result.report)}")
    return lines + fit(tail, cols)


def stale_warnings(result: RunResult) -> list[str]:
    """One warning per claim that reused records written by other code (--reuse-stale)."""
    return [
        f"{cid}: {v['records']} records reused from other code (fingerprint "
        f"{', '.join(v['fingerprints'])})"
        for cid, v in result.meta["reused_from_other_code"].items()
    ]
