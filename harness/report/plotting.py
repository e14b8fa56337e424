"""The matplotlib setup, axis and interval helpers and save steps shared by every report figure
(headless, Agg)."""

from __future__ import annotations

import math
from pathlib import Path


def new_axes(size: tuple[float, float] = (5.2, 3.8)):
    """A (figure, axes) pair on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def new_panels(ncols: int, size: tuple[float, float]):
    """A (figure, axes array) with `ncols` panels side by side sharing the y axis, on the Agg
    backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=size, sharey=True)


def save_figure(fig, path: Path) -> Path:
    """Tight layout, save as PNG (creating the folder; the bounding box grown to a legend placed
    outside the axes), close; returns the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def finish(fig, ax, title: str, path: Path, outside: bool = False) -> Path:
    """Title, legend, tight layout, save as PNG, close; returns the path. `outside` puts the legend
    below the axes (for figures whose data fill the plot, so the legend hides nothing)."""
    ax.set_title(title, fontsize=9)
    if outside:
        n = len(ax.get_legend_handles_labels()[1])
        ax.legend(
            fontsize=7,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.24),
            ncol=1 if n <= 4 else 2,
            frameon=False,
        )
    else:
        ax.legend(fontsize=7, loc="best", framealpha=0.85)
    return save_figure(fig, path)


def axis_label(text: str, width: int = 40) -> str:
    """`text` on lines of about `width` characters, broken only at spaces outside brackets, so that
    an expression such as 'hinge_loss[{"prune.fraction": 0.15}]' or 'x^(-2/3)' stays on one line."""
    words, depth, tokens = text.split(" "), 0, []
    for w in words:  # join the words inside brackets into one unbreakable token
        if depth > 0:
            tokens[-1] += " " + w
        else:
            tokens.append(w)
        depth = max(0, depth + sum(w.count(c) for c in "([{") - sum(w.count(c) for c in ")]}"))
    lines: list[str] = []
    for t in tokens:
        if lines and len(lines[-1]) + 1 + len(t) <= width:
            lines[-1] += " " + t
        else:
            lines.append(t)
    return "\n".join(lines)


GEOMETRIC_MIN_RATIO = 1.5  # successive grid values growing by more than this factor...
# ...with the largest and smallest such ratio within this factor of each other: a log axis
GEOMETRIC_SPREAD = 2.5
MAX_GRID_TICKS = 8  # more grid values than this get 1-2-5 ticks instead of one per value


def is_geometric(values: list[float]) -> bool:
    """Whether a grid is geometric (e.g. B = 1, 2, 4, ..., 64): three or more positive values whose
    successive ratios are all > 1.5 and roughly constant. Such a grid reads on a log axis; on a
    linear one it bunches up."""
    xs = sorted({float(v) for v in values})
    if len(xs) < 3 or xs[0] <= 0:
        return False
    ratios = [b / a for a, b in zip(xs, xs[1:])]
    return min(ratios) > GEOMETRIC_MIN_RATIO and max(ratios) / min(ratios) <= GEOMETRIC_SPREAD


def set_grid_xscale(ax, values: list[float], force_log: bool = False) -> bool:
    """A log x axis with ticks at the grid values (1-2-5 ticks on a dense grid) where the grid is
    geometric (or `force_log`); linear otherwise. Returns whether the axis is logarithmic."""
    if not (force_log or is_geometric(values)):
        return False
    xs = sorted({float(v) for v in values})
    ax.set_xscale("log")
    # a dense grid (e.g. l_ts = 1..48): 1-2-5 ticks, or the labels run together
    if len(xs) > MAX_GRID_TICKS:
        plain_log_ticks(ax.xaxis)
        return True
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.minorticks_off()
    return True


def plain_log_ticks(axis) -> None:
    """Ticks of a log axis (ax.xaxis or ax.yaxis) at 1, 2, 5 x 10^k, written as plain numbers (0.2,
    not 2 x 10^-1)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def t_interval(
    mean: float, sd: float, n: int, level: float = 0.95, clip: tuple[float, float] | None = None
) -> tuple[float, float]:
    """Two-sided t interval of a mean of n values with standard deviation sd (the mean itself when n
    < 2 or sd is not finite), clipped to `clip` (e.g. (0, 1) for a rate: an interval of a proportion
    never leaves [0, 1])."""
    from scipy.stats import t

    if n < 2 or not math.isfinite(sd):
        lo = hi = mean
    else:
        half = float(t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
        lo, hi = mean - half, mean + half
    if clip is not None:
        lo, hi = max(clip[0], lo), min(clip[1], hi)
    return lo, hi


def yerr(means: list[float], intervals: list[tuple[float, float]]) -> list[list[float]]:
    """matplotlib's asymmetric yerr ([below], [above]) from intervals around the means."""
    return [
        [max(0.0, m - lo) for m, (lo, _) in zip(means, intervals)],
        [max(0.0, hi - m) for m, (_, hi) in zip(means, intervals)],
    ]


def seed_interval(
    values: list[float], clip: tuple[float, float] | None = None
) -> tuple[float, float, float]:
    """(mean, lower, upper) of the finite `values` (one per seed) with a 95% t interval, clipped to
    `clip`; nan when there are none."""
    v = [x for x in values if isinstance(x, (int, float)) and math.isfinite(x)]
    if not v:
        return math.nan, math.nan, math.nan
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else math.nan
    return (m, *t_interval(m, sd, len(v), clip=clip))


def accepted_exponents(predicted: dict) -> tuple[float, float, str]:
    """The exponents a rate prediction accepts, as (low, high, legend text): b0 +- margin for a
    tight law; for a sufficient condition (`limit` lower or upper, tested one-sided) everything on
    the allowed side of its edge."""
    b0, m = float(predicted["exponent"]), float(predicted["margin"])
    limit = predicted.get("limit")
    if limit == "lower":
        return b0 - m, math.inf, f"sufficient: b >= {b0 - m:.3g} (b0 = {b0:.3g}, margin {m:.3g})"
    if limit == "upper":
        return -math.inf, b0 + m, f"sufficient: b <= {b0 + m:.3g} (b0 = {b0:.3g}, margin {m:.3g})"
    return b0 - m, b0 + m, f"predicted b = {b0:.3g} +- {m:.3g}"
