"""How reports show a verdict's control and what its design could detect: (label, text) items that
the Markdown report and the HTML page both render (harness.claims.control_verdict judges them)."""

from __future__ import annotations

import math
from typing import Any


def control_items(v: Any) -> list[tuple[str, str]]:
    """The control beside a verdict (run or stored), the remedy when it met the prediction, and
    the smallest effect the design could show."""
    out = []
    c = getattr(v, "control", None)
    if c is not None:
        met = "meets the prediction too" if c.met else "does not meet the prediction"
        origin = "declared" if c.declared else "default"
        out.append(
            (
                f"control {c.name}",
                f"({origin}: {c.change}) {c.verdict}, {met}; {c.measurement}. Why it must fail: "
                f"{c.why}",
            )
        )
        if c.met:
            out.append(("to make the experiment able to fail", c.remedy))
    det = getattr(v, "detectable", math.nan)
    if isinstance(det, float) and math.isfinite(det):
        out.append(("smallest effect this design could show", f"{det:.3g}"))
    elif getattr(v, "estimate", None) is not None:
        out.append(("smallest effect this design could show", "none: its interval is unbounded"))
    return out
