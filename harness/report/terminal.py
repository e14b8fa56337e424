"""Terminal output that fits the terminal: a compact verdict table and one-line reasons.

The full prediction, measurement and interval go to the report; the terminal
gets the claim, its verdict, its control and the estimate beside the prediction,
cut to the width ($COLUMNS, else the terminal's, else 100 columns).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from typing import Any

from harness.report import ledger_section

DEFAULT_WIDTH = 100
MIN_WIDTH = 60


def width(requested: int | None = None) -> int:
    """Columns to fit: `requested`, else $COLUMNS, else the terminal's, else 100 (never under
    60)."""
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
        return s[: max(0, n)]
    return s if len(s) <= n else s[: n - 3].rstrip() + "..."


def short_path(path: Any) -> str:
    """A path as short as it reads: relative to the working directory when it lies below it."""
    p = os.path.abspath(str(path))
    rel = os.path.relpath(p)
    return rel if not rel.startswith("..") else p


def outcome_name(v: Any) -> str:
    """The one name of a verdict's outcome: the verdict, with "(recorded)" when it matches the
    claim's recorded expectation and "(vacuous)" when its control met the prediction too."""
    if getattr(v, "vacuous", False):
        return f"{v.verdict} (vacuous)"
    return f"{v.verdict} (recorded)" if v.matches_expectation else v.verdict


def control_text(v: Any) -> str:
    """The control beside a verdict, short: 'init not met' (its prediction fails there, as it
    must), 'random-rows met' (it holds there too), '—' when none ran."""
    c = getattr(v, "control", None)
    return f"{c.name} {'met' if c.met else 'not met'}" if c else "—"


def short_measurement(measurement: str, prediction: str) -> str:
    """ "measured M | predicted P": both cut to their first clause (before ';'), the report has the
    rest."""
    return f"measured {measurement.split(';')[0]} | predicted {prediction.split(';')[0]}"


def table(
    rows: Iterable[tuple[str, ...]],
    cols: int | None = None,
    headers: tuple[str, ...] = ("claim", "verdict", "measured vs predicted"),
) -> str:
    """Rows of three columns (claim, outcome, detail by default; a fourth, e.g. robustness, goes
    before the detail) as a table no line of which is wider than `cols`."""
    rows = [tuple(r) for r in rows]
    w = width(cols)
    caps = [(5, 28), (7, 30)] + [(len(h), 20) for h in headers[2:-1]]
    fixed = [min(max([lo] + [len(r[i]) for r in rows]), cap) for i, (lo, cap) in enumerate(caps)]
    rest = max(10, w - sum(fixed) - 2 * len(fixed))

    def line(cells: tuple[str, ...]) -> str:
        head = "  ".join(f"{clip(c, n):<{n}}" for c, n in zip(cells, fixed))
        return f"{head}  {clip(cells[-1], rest)}".rstrip()

    lines = [line(headers), "  ".join("-" * n for n in fixed) + f"  {'-' * min(rest, 21)}"]
    lines += [line(r) for r in rows]
    return "\n".join(x[:w] for x in lines)


def short_prediction(predicted: dict[str, Any]) -> str:
    """A claim file's [prediction] numbers in a few characters: '<= 0.02', 'eps 0.05',
    'b -2 ± 0.4' (an exponent and its margin), 'b >= -0.867' (a one-sided limit), 'decreasing'."""
    p = dict(predicted)
    rel = p.pop("relation", None)
    if rel is not None:
        value = next((p[k] for k in ("threshold", "margin") if k in p), "")
        return f"{rel} {value:g}" if isinstance(value, (int, float)) else str(rel)
    if isinstance(p.get("exponent"), (int, float)) and isinstance(p.get("margin"), (int, float)):
        b, margin, limit = p.pop("exponent"), p.pop("margin"), p.pop("limit", None)
        head = (
            f"b >= {b - margin:.3g}"
            if limit == "lower"
            else f"b <= {b + margin:.3g}"
            if limit == "upper"
            else f"b {b:.3g} ± {margin:.3g}"
        )
        return ", ".join([head] + [k for k, v in p.items() if v is True])
    parts = [
        f"{v}"
        if k == "direction"
        else f"{k} {v:g}"
        if isinstance(v, float)
        else f"{len(v)} {k}"
        if isinstance(v, list)
        else f"{k} {v}"
        for k, v in p.items()
    ]
    return ", ".join(parts)


def short_estimate(v: Any) -> str:
    """The estimate and its interval in a few characters ('0.0012 [0, 0.0031]'), or the
    measurement's first clause when there is none."""
    e = getattr(v, "estimate", None)
    if e is None:
        return v.measurement.split(";")[0]
    return f"{e.value:.3g} [{e.lower:.3g}, {e.upper:.3g}]"


def detail(v: Any) -> str:
    """The last column for a Verdict (run or stored): the prediction first, then the estimate with
    its interval ('eps 0.05 | 0.0012 [0, 0.0031]'), so that a cut at the width takes the interval,
    never the prediction; the report has the words."""
    return f"{short_prediction(v.predicted)} | {short_estimate(v)}"


def p_text(v: Any) -> str:
    """'p=6.3e-11' for a REFUTED verdict (its refutation p-value, the typed field), else ''."""
    return f"p={v.p_refute:.2g}" if v.verdict == "REFUTED" else ""


def p_sentence(v: Any) -> str:
    """The refutation p-value of a REFUTED verdict in words for the reports ('6.3e-11, holm-adjusted
    2.2e-09'), '' for any other verdict."""
    if v.verdict != "REFUTED":
        return ""
    fam = getattr(v, "family", None)
    adjusted = f", {fam.method}-adjusted {fam.p_adjusted:.2g}" if fam is not None else ""
    return f"{v.p_refute:.2g}{adjusted}"


REPLANNED_TAG = " *"
REPLANNED_LEGEND = "* re-planned after a verdict: its [[changes]] log is in the report"


def outcome_cell(v: Any) -> str:
    """The verdict column: the outcome, with its p-value when REFUTED ('REFUTED p=6.3e-11'), tagged
    ' *' when the claim was re-planned after a verdict."""
    p = p_text(v)
    return (
        outcome_name(v)
        + (f" {p}" if p else "")
        + (REPLANNED_TAG if ledger_section.marker(v, short=True) else "")
    )


def _with_legend(text: str, verdicts: list[Any]) -> str:
    if any(ledger_section.marker(v, short=True) for v in verdicts):
        return text + "\n" + REPLANNED_LEGEND
    return text


def verdict_table(
    verdicts: Iterable[Any], cols: int | None = None, robustness: dict[str, str] | None = None
) -> str:
    """The compact table of Verdict objects (claim, outcome, control, short measurement against
    prediction); with `robustness` (claim id -> ROBUST / FRAGILE / CONTINGENT / PARTIAL) a
    robustness column, — for claims without a multiverse."""
    verdicts = list(verdicts)
    if robustness is None:
        return _with_legend(
            table(
                ((v.claim_id, outcome_cell(v), control_text(v), detail(v)) for v in verdicts),
                cols,
                headers=("claim", "verdict", "control", "predicted | estimate [interval]"),
            ),
            verdicts,
        )
    return _with_legend(
        table(
            (
                (
                    v.claim_id,
                    outcome_cell(v),
                    control_text(v),
                    robustness.get(v.claim_id, "—"),
                    detail(v),
                )
                for v in verdicts
            ),
            cols,
            headers=(
                "claim",
                "verdict",
                "control",
                "robustness",
                "predicted | estimate [interval]",
            ),
        ),
        verdicts,
    )


def stored_table(verdicts: list[Any], cols: int | None = None) -> str:
    """The compact table of a run folder's stored verdicts (run_folders.StoredVerdict), with the
    robustness column when the run had a multiverse (a claim without one shows —)."""
    labels = {v.claim_id: v.robustness or "—" for v in verdicts if v.multiverse}
    return verdict_table(verdicts, cols, robustness=labels or None)
