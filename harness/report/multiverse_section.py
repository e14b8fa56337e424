"""The multiverse in a report: per claim a table (alternative -> verdict, measurement, why) and a
specification curve (the verdict's estimate with its interval under each alternative, sorted by
estimate, the main setting highlighted).

Works from the `multiverse` block stored per claim in verdicts.json
(harness.run.multiverse_run.multiverse_block), so a report rebuilt from a run folder draws the same.
The figure is registered in `MULTIVERSE_FIGURES`."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.core.registry import Registry
from harness.report.plotting import accepted_exponents, new_axes, save_figure

NONE = "—"  # no multiverse ran for the claim
VERDICT_COLOURS = {
    "CONFIRMED": "#2e7d32",
    "REFUTED": "#c62828",
    "INCONCLUSIVE": "#757575",
    "ERROR": "#6a1b9a",
}
MultiverseDrawer = Callable[[str, dict[str, Any], Path], "Path | None"]
MULTIVERSE_FIGURES: Registry[MultiverseDrawer] = Registry("multiverse figure")


def label_of(block: dict[str, Any] | None) -> str:
    """ROBUST / FRAGILE / CONTINGENT / PARTIAL, or — when no multiverse ran for the claim."""
    return str(block.get("label", NONE)) if block else NONE


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _entries(block: dict[str, Any]) -> list[dict[str, Any]]:
    """(name, verdict, value, lower, upper, main) of the main setting and every alternative with a
    finite estimate."""
    out = []
    rows = [{"name": "main setting", "main": True, **block.get("main", {})}] + [
        {**r, "main": False} for r in block.get("alternatives", []) if r.get("status") == "ran"
    ]
    for r in rows:
        e = r.get("estimate") or {}
        if _finite(e.get("value")):
            lo = e["lower"] if _finite(e.get("lower")) else e["value"]
            hi = e["upper"] if _finite(e.get("upper")) else e["value"]
            out.append(
                {
                    "name": r["name"],
                    "verdict": r.get("verdict"),
                    "value": e["value"],
                    "lower": lo,
                    "upper": hi,
                    "main": r["main"],
                    "estimate": e.get("name", ""),
                    "level": e.get("level"),
                }
            )
    return sorted(out, key=lambda d: d["value"])


def _prediction(ax, predicted: dict[str, Any]) -> tuple[float, float] | None:
    """The claim's prediction as a reference: the exponent's margin band, or the threshold / eps /
    margin line. Returns the accepted exponents of a one-sided (sufficient) rate, to shade once the
    points set the axis."""
    if "exponent" in predicted and "margin" in predicted:
        lo, hi, text = accepted_exponents(predicted)
        if math.isfinite(lo) and math.isfinite(hi):
            ax.axhspan(lo, hi, color="C3", alpha=0.12, lw=0, label=text)
        # one-sided: the edge, shaded towards the allowed side over the whole axis once the points
        # are drawn
        else:
            ax.axhline(lo if math.isfinite(lo) else hi, color="C3", ls="--", lw=1.2, label=text)
            return lo, hi
        return None
    for key in ("threshold", "eps", "margin"):
        if _finite(predicted.get(key)):
            ax.axhline(
                float(predicted[key]),
                color="C3",
                ls="--",
                lw=1.2,
                label=f"claim's {key} {predicted[key]:g}",
            )
            return None
    if "direction" in predicted:
        ax.axhline(
            0.0,
            color="C3",
            ls="--",
            lw=1.2,
            label=f"no trend (predicted: {predicted['direction']})",
        )
    return None


def _shade_one_sided(ax, side: tuple[float, float] | None) -> None:
    """Shade a one-sided prediction's allowed side up to the axis edge, keeping the limits the
    points set."""
    if side is None:
        return
    lo, hi = side
    y0, y1 = ax.get_ylim()
    ax.axhspan(
        lo if math.isfinite(lo) else y0,
        hi if math.isfinite(hi) else y1,
        color="C3",
        alpha=0.12,
        lw=0,
    )
    ax.set_ylim(y0, y1)


def specification_curve(claim_id: str, block: dict[str, Any], path: Path) -> Path | None:
    """The estimate with its interval under the main setting and each alternative, sorted, coloured
    by verdict."""
    ent = _entries(block)
    if len(ent) < 2:
        return None
    fig, ax = new_axes((max(5.6, 0.5 * len(ent) + 2.5), 4.6))
    one_sided = _prediction(ax, block.get("main", {}).get("predicted", {}))
    seen: set[str] = set()
    for i, d in enumerate(ent):
        colour = VERDICT_COLOURS.get(str(d["verdict"]), "#555")
        label = (
            f"main setting: {d['verdict']}"
            if d["main"]
            else (d["verdict"] if d["verdict"] not in seen else None)
        )
        seen.add(str(d["verdict"]) if not d["main"] else "")
        ax.errorbar(
            [i],
            [d["value"]],
            yerr=[[d["value"] - d["lower"]], [d["upper"] - d["value"]]],
            fmt="*" if d["main"] else "o",
            ms=14 if d["main"] else 6,
            color=colour,
            capsize=3,
            zorder=3,
            label=label,
            mec="black" if d["main"] else colour,
        )
    ax.set_xticks(
        range(len(ent)),
        [("MAIN SETTING" if d["main"] else d["name"]) for d in ent],
        rotation=50,
        ha="right",
        fontsize=7,
    )
    for t, d in zip(ax.get_xticklabels(), ent):
        if d["main"]:
            t.set_fontweight("bold")
    _shade_one_sided(ax, one_sided)
    level = next((d["level"] for d in ent if d["main"]), None)
    ax.set_ylabel(f"{ent[0]['estimate']}" + (f" ({level:.0%} interval)" if _finite(level) else ""))
    ax.set_title(
        f"{claim_id}: {label_of(block)} (specification curve, one alternative at a time)\n"
        "star: main setting; colour: verdict under the alternative",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.42), ncol=4, frameon=False)
    return save_figure(fig, path)


MULTIVERSE_FIGURES.register("specification_curve", specification_curve)


def _cell(x: Any) -> str:
    return " ".join(str(x).split()).replace("|", "/")


def section_lines(claim_id: str, block: dict[str, Any], figure: str | None) -> list[str]:
    """Markdown for one claim: the label, the flips, the table of alternatives, the figure."""
    lines = ["", f"#### Multiverse: {label_of(block)}", ""]
    if block.get("flips"):
        by = {r["name"]: r for r in block.get("alternatives", [])}
        lines.append(
            "- flips the verdict: "
            + "; ".join(
                f"`{n}` ({by[n]['change']}): {by[n]['verdict']}, {by[n]['measurement']}"
                for n in block["flips"]
            )
        )
    lines.append(f"- family-wise correction: {block.get('correction', '')}")
    main = block.get("main", {})
    lines += [
        "",
        "| alternative | change | verdict | measurement | why |",
        "|---|---|---|---|---|",
        f"| **main setting** | | **{main.get('verdict')}** | {_cell(main.get('measurement', ''))} "
        "| |",
    ]
    for r in block.get("alternatives", []):
        verdict = r["verdict"] if r.get("status") == "ran" else "skipped"
        meas = r.get("measurement") if r.get("status") == "ran" else r.get("skipped", "")
        lines.append(
            f"| `{r['name']}` | {_cell(r.get('change', ''))} | {verdict} | {_cell(meas)} | "
            f"{_cell(r.get('why', ''))} |"
        )
    if figure:
        lines += ["", f"![{claim_id}: specification curve]({figure})"]
    return lines


def draw_all(blocks: dict[str, dict[str, Any]], plots: Path) -> dict[str, str]:
    """Claim id -> the specification curve's path relative to the run folder (claims with one
    drawn)."""
    out = {}
    for cid, block in blocks.items():
        p = MULTIVERSE_FIGURES.get("specification_curve")(
            cid, block, plots / f"{cid}-multiverse.png"
        )
        if p:
            out[cid] = f"plots/{p.name}"
    return out
