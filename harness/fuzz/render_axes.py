"""The per-axis tables of the fuzz report: for every sweep axis, the measured error per value and
domain with its interval, the crossing of eps, and the longer-training probe when it ran."""

from __future__ import annotations

from tabulate import tabulate

from harness.fuzz.assumption_report import ID, OOD
from harness.fuzz.axis_summary import AxisSummary
from harness.fuzz.crossings import fmt
from harness.fuzz.profiles import BUDGET_FACTOR
from harness.fuzz.summary import RobustnessSummary


def _domain_cells(s: AxisSummary, i: int) -> list[str]:
    """Per-replicate errors, pooled count with its CP bounds, and verdict at grid value i, in-domain
    then OOD."""
    cells = []
    for dom in (ID, OOD):
        p = s.pooled[dom][i]
        cells += [" ".join(f"{e:.3f}" for e in s.err[dom][i]), p.text(), p.verdict]
    return cells


def axis_tables(s: RobustnessSummary) -> list[str]:
    L = ["", "## Sweeps, per axis"]
    for a in s.axes:
        L += [
            "",
            f"### `{a.axis.name}`: {a.axis.label}",
            "",
            f"Bends `{a.axis.assumption}`. Fields set: {', '.join(a.axis.fields)}. Crossing "
            f"in-domain: {a.crossing[ID].text()}; "
            f"OOD: {a.crossing[OOD].text()}.",
            "",
        ]
        rows = [
            [
                fmt(v),
                fmt(a.x[i]) if a.axis.group == "coherence" else "",
                fmt(a.margins[i]),
                *_domain_cells(a, i),
            ]
            for i, v in enumerate(a.values)
        ]
        L.append(
            tabulate(
                rows,
                headers=[
                    "value",
                    "max coherence",
                    "margin",
                    "id error per replicate",
                    "id pooled [CP 95%]",
                    "id",
                    "ood error per replicate",
                    "ood pooled [CP 95%]",
                    "ood",
                ],
                tablefmt="github",
            )
        )
        b = a.budget
        if b is not None:
            L += [
                "",
                f"With {BUDGET_FACTOR}x steps ({s.profile.steps * BUDGET_FACTOR}), replicates "
                f"0..{b.err[ID].shape[1] - 1}: "
                f"crossing in-domain {b.crossing[ID].text()}, OOD {b.crossing[OOD].text()}.",
                "",
            ]
            brows = [[fmt(v), *_domain_cells(b, i)] for i, v in enumerate(b.values)]
            L.append(
                tabulate(
                    brows,
                    headers=[
                        "value",
                        "id error per replicate",
                        "id pooled [CP 95%]",
                        "id",
                        "ood error per replicate",
                        "ood pooled [CP 95%]",
                        "ood",
                    ],
                    tablefmt="github",
                )
            )
    return L
