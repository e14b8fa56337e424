"""How reports mark a claim re-planned after a verdict: its `[[changes]]` log, the old verdict kept
visible.

Every report reads the same stored fields of a verdict (`plan_changes`, `plan_digest`;
harness.claims.analysis_plan) of a Verdict, from a run or read back from verdicts.json, and says
it the same way:
"re-planned after INCONCLUSIVE at commit ee948af: <why>". The Markdown report, the HTML page and the
terminal tables use these functions."""

from __future__ import annotations

from typing import Any


def changes(v: Any) -> list[dict[str, str]]:
    """The [[changes]] entries recorded with a verdict; [] for none."""
    return [c for c in (v.plan_changes or []) if isinstance(c, dict)]


def headline(change: dict[str, str], short: bool = False) -> str:
    """'re-planned after INCONCLUSIVE at commit ee948af (2026-11-23)' for one entry ('... at
    ee948af' when short)."""
    at = f" at {'' if short else 'commit '}{change['commit'][:7]}" if change.get("commit") else ""
    when = f" ({change['date']})" if change.get("date") and not short else ""
    return f"re-planned after {change.get('old_verdict', 'not recorded')}{at}{when}"


def describe(change: dict[str, str]) -> str:
    """One entry in full: the headline, what changed, why, and the replaced plan's digest."""
    return (
        f"{headline(change)}: {change.get('what', '')}. Why: {change.get('why', '')} (old plan "
        f"{change.get('old_plan', '?')})"
    )


def marker(v: Any, short: bool = False) -> str:
    """A mark for tables: the last re-planning's headline ('' when the plan never changed)."""
    cs = changes(v)
    if not cs:
        return ""
    more = f" (+{len(cs) - 1} earlier)" if len(cs) > 1 else ""
    return headline(cs[-1], short) + more


def markdown_lines(v: Any) -> list[str]:
    """The detail lines of a claim in report.md: the plan digest, and each re-planning in bold with
    its old verdict."""
    digest = v.plan_digest
    lines = [f"- plan: `{digest}`"] if digest else []
    return lines + [
        f"- **{headline(c)}**: {c.get('what', '')}. Why: {c.get('why', '')} (old plan "
        f"`{c.get('old_plan', '?')}`)"
        for c in changes(v)
    ]


def html_items(v: Any) -> list[tuple[str, str]]:
    """(label, text) items of a claim's section on the HTML page."""
    digest = v.plan_digest
    return [("re-planned", describe(c)) for c in changes(v)] + (
        [("plan", digest)] if digest else []
    )
