"""The paper's reported values (as docs/paper.md gives them), by claim id, drawn into that claim's
figures as "paper".

docs/paper.md gives few numbers: same-pattern attention ~0.4 -> ~1.0 (one layer) and ~0.8-0.9 per
layer (deep model), error flat up to ~15% small-magnitude pruning, in-domain and OOD (S1 >= 1) error
near 0, OOD plateaus growing as S1 falls below 1 (0.9, 0.7, 0.5), and Theorem 3.3's B >= max(eps^-2,
M1) with M1 = 6. Claims the paper gives no number for have no entry; a rate claim's exponent is
drawn from its prediction."""

from __future__ import annotations

from dataclasses import dataclass

PAPER_COLOR = "C4"


@dataclass(frozen=True)
class PaperValue:
    """One reported value: a horizontal line at `y`, a band `band` = (low, high), a vertical line at
    `x`, or a shaded range of x `x_span` = (low, high); `x_from` limits a horizontal line to x >=
    x_from (the paper's value holds only there)."""

    label: str  # its legend entry ('' for none: another value of the figure states it)
    y: float | None = None
    band: tuple[float, float] | None = None
    x: float | None = None
    x_span: tuple[float, float] | None = None
    x_from: float | None = None


_ATTN = PaperValue("paper: ~0.4 -> ~1.0 over training", y=1.0)
_PRUNE_FLAT = PaperValue("paper: error flat up to ~15% (difference ~0)", y=0.0)
_OOD_LOW = PaperValue("paper: OOD error near 0 for S1 >= 1", y=0.0, x_from=1.0)
# one statement per series: the line and the shaded range of a trend claim share one legend entry
_OOD_BOTH = PaperValue(
    "paper: OOD error near 0 for S1 >= 1; plateaus grow as S1 falls below 1 (shaded)",
    y=0.0,
    x_from=1.0,
)
_OOD_PLATEAU = PaperValue("", x_span=(0.0, 1.0))

PAPER: dict[str, tuple[PaperValue, ...]] = {
    "attn-concentration": (_ATTN,),
    "attn-concentration-ood": (_ATTN,),
    "attn-rise": (PaperValue("paper: gain ~0.6 (from ~0.4 to ~1.0)", y=0.6),),
    "deep-attn-concentration": (PaperValue("paper: ~0.8-0.9 in every layer", band=(0.8, 0.9)),),
    "prune-small": (_PRUNE_FLAT,),
    "deep-prune-small": (_PRUNE_FLAT,),
    "indomain-unseen": (PaperValue("paper: unseen in-domain error near 0", y=0.0),),
    "ood-s1": (_OOD_LOW,),
    "ood-s1-trend": (_OOD_BOTH, _OOD_PLATEAU),
    "deep-ood-s1": (_OOD_BOTH, _OOD_PLATEAU),
    "batch-eps": (PaperValue("paper (Thm 3.3): B >= M1 = 6 (and >= eps^-2)", x=6.0),),
}


def paper_values(claim_id: str) -> tuple[PaperValue, ...]:
    """The paper's values for a claim (empty when docs/paper.md gives none)."""
    return PAPER.get(claim_id, ())


def draw_paper(ax, values: tuple[PaperValue, ...], x_max: float | None = None) -> None:
    """Draw `values` on `ax` in the paper's colour, each labelled (for the legend); `x_max` ends a
    line that starts at `x_from` (default: the axes' right edge)."""
    for pv in values:
        label = pv.label or None
        # on top of the data (and of a zero line), so that a value at 0 is never hidden under them
        style = dict(color=PAPER_COLOR, lw=1.8, ls="-.", alpha=0.9, zorder=5, label=label)
        if pv.band is not None:
            ax.axhspan(*pv.band, color=PAPER_COLOR, alpha=0.15, lw=0, label=label)
        elif pv.y is not None and pv.x_from is not None:
            right = x_max if x_max is not None else ax.get_xlim()[1]
            ax.plot([pv.x_from, max(right, pv.x_from)], [pv.y, pv.y], **style)
        elif pv.y is not None:
            ax.axhline(pv.y, **style)
        elif pv.x is not None:
            ax.axvline(pv.x, **style)
        elif pv.x_span is not None:  # shaded within the data's x range only
            lim = ax.get_xlim()
            ax.axvspan(
                max(pv.x_span[0], lim[0]),
                min(pv.x_span[1], lim[1]),
                color=PAPER_COLOR,
                alpha=0.1,
                lw=0,
                label=label,
            )
            ax.set_xlim(lim)
