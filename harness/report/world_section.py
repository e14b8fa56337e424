"""The report's worlds section: every claim whose seeds fell into different worlds of a mixture
factor (harness.claims.world_split), flagged, with each world's seeds, mean and verdict, so a
reader sees the split instead of one mean over it."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate


def world_rows(verdicts: list[Any]) -> list[dict[str, Any]]:
    """One row per (claim, world) for the claims whose seeds drew more than one world."""
    rows = []
    for v in verdicts:
        split = getattr(v, "world_split", None)
        if split is None or len(split.levels) < 2:
            continue
        for w in split.levels:
            rows.append(
                {
                    "claim": v.claim_id,
                    "factor": split.factor,
                    "judged": split.judged,
                    "world": w.level,
                    "seeds": w.seeds,
                    "mean metric": float(f"{w.mean:.4g}"),
                    "world verdict": w.verdict or "(pooled)",
                }
            )
    return rows


def markdown_lines(verdicts: list[Any]) -> list[str]:
    """The section, or nothing when every claim's seeds drew one world."""
    rows = world_rows(verdicts)
    if not rows:
        return []
    flagged = sorted({r["claim"] for r in rows})
    return [
        "",
        "## Worlds: claims whose seeds fall into separate groups",
        "",
        f"{len(flagged)} claims ({', '.join(flagged)}) have seeds in more than one world of a "
        "mixture factor (docs/calibration.md). `judged` is the claim's `[metric] worlds` reading: "
        "`each` judged every world apart, `pooled` judged one mixture of them.",
        "",
        tabulate(rows, headers="keys", tablefmt="github"),
    ]
