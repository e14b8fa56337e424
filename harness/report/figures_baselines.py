"""The "baselines_by_context_length" figure and table: in-domain error against the number of context
examples l_ts, one line per method (the trained Transformer on top, the classical baselines fitted
on the same prompts' contexts beneath it), one panel per alpha'; mean over seeds with 95% t
intervals clipped to [0, 1]. Grey lines: the combinatorial floor (half the chance that no context
shares the query's pattern) under the test sampling in use and, when that is not "iid", under iid
draws for reference."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.claims.record import Record
from harness.measure.baselines import chance_floor
from harness.report.plotting import new_panels, save_figure, seed_interval, yerr

RATE = (0.0, 1.0)


def baseline_table(records: list[Record]) -> dict[float, dict[str, dict[int, list[float]]]]:
    """alpha' -> method -> l_ts -> per-seed in-domain error rates."""
    out: dict[float, dict[str, dict[int, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for r in records:
        if r.failed:
            continue
        for meas in r.measurements:
            p = meas.point
            if "baseline.method" not in p:
                continue
            alpha = float(p.get("data.alpha_test", r.config.data.alpha_test))
            lts = int(p.get("data.l_ts", r.config.data.l_ts))
            out[alpha][p["baseline.method"]][lts].append(meas.err_id / meas.n)
    return out


def test_sampling(records: list[Record]) -> str:
    """The test sampling the records' baseline points were measured under (the first one's)."""
    for r in records:
        for meas in r.measurements:
            if "baseline.method" in meas.point:
                return str(meas.point.get("data.test_sampling", r.config.data.test_sampling))
    return "at_least"


def _methods(by_method: dict[str, Any]) -> list[str]:
    """The methods with the Transformer first (it keeps the first colour and the legend's top
    row)."""
    return sorted(by_method, key=lambda m: (m != "transformer", m))


def baselines_by_context_length(records: list[Record], title: str, path: Path) -> Path | None:
    table = baseline_table(records)
    if not table:
        return None
    alphas = sorted(table)
    sampling = test_sampling(records)
    fig, axes = new_panels(len(alphas), (5.2 * len(alphas) + 1.6, 4.0))
    axes = list(axes) if len(alphas) > 1 else [axes]
    for ax, alpha in zip(axes, alphas):
        for i, method in enumerate(_methods(table[alpha])):
            by_l = table[alpha][method]
            xs = sorted(by_l)
            stats = [seed_interval(by_l[x], clip=RATE) for x in xs]
            means = [m for m, _, _ in stats]
            top = method == "transformer"  # drawn last-on-top: thick black, above every baseline
            style = (
                dict(lw=2.4, color="k", zorder=10, ms=6)
                if top
                else dict(
                    lw=1,
                    color=f"C{i}",
                    ls="--" if method == "best" else "-",
                    zorder=3,
                    ms=4,
                    alpha=0.85,
                )
            )
            ax.errorbar(
                xs,
                means,
                yerr=yerr(means, [(lo, hi) for _, lo, hi in stats]),
                fmt="o",
                capsize=2,
                label=f"{method} (ours)" if top else method,
                **style,
            )
        ls = sorted({x for by_l in table[alpha].values() for x in by_l})
        for smp, ls_style in zip([sampling] + (["iid"] if sampling != "iid" else []), ("-", ":")):
            ax.plot(
                ls,
                [chance_floor(smp, alpha, x) for x in ls],
                color="0.5",
                ls=ls_style,
                lw=1,
                zorder=2,
                label=f"floor: no same-pattern context ({smp})",
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(ls, [str(x) for x in ls])
        ax.minorticks_off()
        ax.set_ylim(bottom=-0.01)
        ax.set_xlabel("context examples l_ts (log)")
        ax.set_title(f"{title}\nalpha' = {alpha:g} (mean over seeds, 95% t interval)", fontsize=9)
    axes[0].set_ylabel("in-domain error (unseen tasks)")
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return save_figure(fig, path)


def baselines_table(records: list[Record]) -> list[dict[str, Any]]:
    rows = []
    for alpha, by_method in sorted(baseline_table(records).items()):
        for method in _methods(by_method):
            row: dict[str, Any] = {"alpha'": alpha, "method": method}
            for lts in sorted(by_method[method]):
                row[f"l_ts={lts}"] = seed_interval(by_method[method][lts])[0]
            rows.append(row)
    return rows
