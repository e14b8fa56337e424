"""The robustness report: report.md (tabulate), summary.json and PNG figures of the sweep, probes and fuzz campaign."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from harness.fuzz.assumptions import ID, OOD, describe
from harness.world.config import DataConfig
from harness.core.jsonio import atomic_write_text, json_safe
from harness.fuzz.outcomes import Outcome
from harness.fuzz.profiles import ANCHOR, LEVEL, FuzzProfile
from harness.report.plotting import new_panels, save_figure
from harness.run.provenance import git_commit
from harness.fuzz.robustness import (BUDGET_FACTOR, AxisSummary, Ranked, SweepPoint, TaskGraphRow, fmt, knob_text, pooled_verdict, rank_axes,
                         summarise_axis)


PANELS = ((ID, "in-domain (unseen tasks)"), (OOD, "out-of-domain (S1 = 2 unless swept)"))


def _error_panels(path: Path, eps: float, xlabel: str, ylabel: str, suptitle: str, draw) -> Path:
    """Two panels (in-domain, OOD) of error on a symlog axis with the eps line; `draw(ax, domain)` adds the curves."""
    fig, axs = new_panels(2, (11, 4.2))
    for a, (dom, name) in zip(axs, PANELS):
        draw(a, dom)
        a.axhline(eps, color="k", ls="--", lw=1, label=f"eps = {eps:g}")
        a.set_title(name)
        a.set_xlabel(xlabel)
        a.set_yscale("symlog", linthresh=0.01)
        a.set_ylim(0, 1)
        a.grid(alpha=0.3)
    axs[0].set_ylabel(ylabel)
    axs[1].legend(fontsize=7, loc="upper left")
    fig.suptitle(suptitle, fontsize=9)
    return save_figure(fig, path)


def _plot_axes(sel: list[AxisSummary], path: Path, eps: float, xlabel: str, title: str) -> Path | None:
    """Per-replicate errors (dots), their mean (line), the eps crossing and its interval, per swept axis."""
    if not sel:
        return None

    def draw(a, dom: str) -> None:
        for i, s in enumerate(sel):
            color = f"C{i}"
            xs, E = np.asarray(s.x), s.err[dom]
            for j in range(E.shape[1]):
                a.plot(xs, E[:, j], "o", ms=3, alpha=0.45, color=color)
            a.plot(xs, E.mean(axis=1), "-", color=color, label=f"{s.axis.name} (mean of {E.shape[1]})")
            if s.budget is not None:
                a.plot(s.budget.x, s.budget.err[dom].mean(axis=1), "--", color=color, lw=1,
                       label=f"{s.axis.name}, {BUDGET_FACTOR}x steps (mean of {s.budget.err[dom].shape[1]})")
            c = s.crossing[dom]
            if not (c.n_left or c.n_right):
                # in axis-value units: for the coherence axes (no norm jitter) the value is the measured max coherence
                if math.isfinite(c.lower):
                    a.axvspan(c.lower, c.upper, color=color, alpha=0.12)
                a.axvline(c.mean, color=color, ls=":", lw=1)

    return _error_panels(path, eps, xlabel, "test error (per replicate: dots; mean: line)",
                         title + " (shaded: 95% t interval of the eps crossing over replicates; dashed: more steps)", draw)


def _plot_other(summaries: list[AxisSummary], path: Path, eps: float) -> Path | None:
    """Mean error against the severity of each bent assumption (the non-coherence, non-noise axes)."""
    sel = [s for s in summaries if s.axis.group == "other" and s.axis.role == "assumption"]
    if not sel:
        return None

    def draw(a, dom: str) -> None:
        for i, s in enumerate(sel):
            a.plot(np.asarray(s.severities), s.err[dom].mean(axis=1), "o-", ms=3, color=f"C{i}",
                   label=f"{s.axis.name} ({s.axis.assumption})")
        a.axvline(0.0, color="grey", ls=":", lw=1)

    return _error_panels(path, eps, "severity of the bent assumption (margin / scale; > 0 violated)", "mean test error over replicates",
                         "Other assumptions: error against how far each is bent (left of the dotted line: the assumption still holds)",
                         draw)


def _domain_cells(s: AxisSummary, i: int) -> list[str]:
    """Per-replicate errors, pooled count with its CP bounds, and verdict at grid value i, in-domain then OOD."""
    cells = []
    for dom in (ID, OOD):
        k, n, lo, hi, verdict = s.pooled[dom][i]
        cells += [" ".join(f"{e:.3f}" for e in s.err[dom][i]), f"{k}/{n} [{lo:.3f}, {hi:.3f}]", verdict]
    return cells


def _budget_text(s: AxisSummary, dom: str) -> str:
    if s.budget is None or s.breaks_from[dom] is None:
        return "-"
    return s.budget.crossing[dom].text()


def _ranking_rows(ranked: list[Ranked], dom: str) -> list[list[str]]:
    return [[r.summary.axis.name, r.summary.axis.assumption, r.status, r.summary.crossing[dom].text(),
             r.summary.crossing_severity[dom].text(), fmt(max(r.summary.severities)), fmt(r.summary.holds_up_to[dom]),
             _budget_text(r.summary, dom)]
            for r in ranked]


RANK_HEADERS = ["axis", "assumption", "status", "crossing of eps (axis units)", "crossing (severity)", "max severity tried",
                "CONFIRMED up to", f"crossing with {BUDGET_FACTOR}x steps (first replicates)"]


def write_report(out: Path | str, profile: FuzzProfile, points: list[SweepPoint], campaign: list[Outcome] | None = None,
                 minimal: list[tuple[Outcome, str, Outcome | None]] | None = None, wall_seconds: float | None = None,
                 anchor: DataConfig = ANCHOR, root: Path | str | None = None, budget: list[SweepPoint] | None = None,
                 task_graph: list[TaskGraphRow] | None = None) -> Path:
    """report.md, summary.json, coherence.png, noise.png, other.png, alpha.png under `out`."""
    from tabulate import tabulate

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    eps = profile.eps
    summaries = [summarise_axis(ax, points, eps, budget) for ax in profile.axes if any(p.axis == ax.name for p in points)]
    by = {s.axis.name: s for s in summaries}
    figs = {
        "coherence": _plot_axes([s for s in summaries if s.axis.group == "coherence"], out / "coherence.png", eps,
                                "maximum |cosine| among the M1 + M2 patterns (measured)", "Error against pattern coherence"),
        "noise": _plot_axes([s for s in summaries if s.axis.group == "noise"], out / "noise.png", eps, "noise norm / pattern norm",
                            "Error against additive input noise"),
        "other": _plot_other(summaries, out / "other.png", eps),
        "alpha": _plot_axes([s for s in summaries if s.axis.role == "constant"], out / "alpha.png", eps,
                            "alpha (training; alpha' = 0.8) or alpha' (test; alpha = 0.8, alpha_gap: alpha = 1), l = 20",
                            "Error at the alpha edges (hidden constants)"),
    }
    R = profile.replicates
    L: list[str] = []
    L.append("# Where the assumptions break: robustness of the in-context-learning claims")
    L.append("")
    L.append(f"Profile `{profile.name}`: {profile.steps} SGD steps (B = 64, eta = 1), {R} replicates per grid point "
             f"(seeds shared across grid points), {profile.n_test} fresh test prompts per member and domain, eps = {eps:g}. "
             f"Anchor: the paper's orthogonal world (M1 = {anchor.M1}, M2 = {anchor.M2}, dX = {anchor.dX}, beta = {anchor.beta:g}, "
             f"K = {anchor.K:g}, alpha = {anchor.alpha:g}, l = {anchor.l_tr}) at S1 = {anchor.S1:g}; each axis bends one assumption. "
             f"In-domain = error on the unseen tasks T \\ T_tr; OOD = error on the ODR tasks."
             + (f" Wall time {wall_seconds:.0f} s." if wall_seconds is not None else ""))
    L.append("")
    L.append("Crossing = where the error first exceeds eps, interpolated linearly per replicate between neighbouring grid points; "
             f"interval = two-sided {LEVEL:.0%} t interval over the {R} replicates (none when a replicate is censored). "
             "Holds up to / breaks from = the SPEC's bound rule on the counts pooled over replicates (one-sided 95% Clopper-Pearson: "
             "CONFIRMED if the upper bound <= eps, REFUTED if the lower bound > eps).")
    L.append("")
    # ---- answers
    L.append("## Answers")
    L.append("")
    answers_from = len(L)
    for name, what in (("coherence_all", "max |cosine| among all patterns (all pairs bent together)"),
                       ("coherence_rel", "max |cosine| among the IDR patterns"), ("noise", "noise norm / pattern norm")):
        s = by.get(name)
        if s is None:
            continue
        for dom, claim in ((ID, "in-domain"), (OOD, "OOD")):
            more = (f" With {BUDGET_FACTOR}x steps ({len(s.budget.crossing[dom].values)} replicates): REFUTED from "
                    f"{fmt(s.budget.breaks_from[dom])}, crossing {s.budget.crossing[dom].text()}."
                    if s.budget is not None and s.breaks_from[dom] is not None else "")
            L.append(f"- **{claim} vs {what}**: CONFIRMED at every grid point up to {fmt(s.holds_up_to[dom])}, "
                     f"REFUTED from {fmt(s.breaks_from[dom])}; error crosses eps at {s.crossing[dom].text()}.{more}")
    L.append("")
    for dom, claim in ((ID, "In-domain claim"), (OOD, "OOD claim")):
        ranked = rank_axes(summaries, dom)
        at_budget = sorted([r for r in ranked if r.key[0] < 2], key=lambda r: (r.key[0] != 0, r.key[1]))
        if at_budget:
            f = at_budget[0]
            L.append(f"- **{claim}: first assumption to matter at {profile.steps} steps: `{f.summary.axis.assumption}`** "
                     f"(axis `{f.summary.axis.name}`: {f.status}; error crosses eps at {f.summary.crossing[dom].text()}).")
        breaking = [r for r in ranked if r.breaks]
        if breaking:
            f = breaking[0]
            L.append(f"  First whose break survives {BUDGET_FACTOR}x the steps: **`{f.summary.axis.assumption}`** (axis "
                     f"`{f.summary.axis.name}`: {f.status}; error crosses eps at {f.summary.crossing[dom].text()}"
                     + (f", with {BUDGET_FACTOR}x steps at {f.summary.budget.crossing[dom].text()}" if f.summary.budget is not None else "")
                     + ").")
            if len(breaking) > 1:
                L.append("  Then: " + "; ".join(f"`{r.summary.axis.assumption}` via `{r.summary.axis.name}` "
                                                 f"(crossing {r.summary.crossing[dom].text()})" for r in breaking[1:]) + ".")
        limited = [r for r in ranked if r.key[0] == 1.5]
        if limited:
            L.append(f"  Breaks that {BUDGET_FACTOR}x the steps remove (the iteration budget, not the assumption): "
                     + "; ".join(f"`{r.summary.axis.assumption}` via `{r.summary.axis.name}` ({r.status})" for r in limited) + ".")
        quiet = [r for r in ranked if r.key[0] >= 2]
        if quiet:
            L.append("  No clear break on the grid: " + "; ".join(f"`{r.summary.axis.name}` up to {fmt(r.summary.values[-1])}"
                                                                 + (f" ({r.status})" if r.key[0] == 2 else "") for r in quiet) + ".")
        consts = rank_axes(summaries, dom, "constant")
        if consts:
            L.append("  Hidden constants (the literal condition l >= 1/alpha holds with slack where the claim breaks; what "
                     "runs out is the iteration budget or the same-pattern contexts): "
                     + "; ".join(f"`{r.summary.axis.name}` crosses eps at {r.summary.crossing[dom].text()}" for r in consts) + ".")
    if task_graph:
        bad = [r for r in task_graph if pooled_verdict(r.outcomes, ID, eps)[4] == "REFUTED"]
        if bad:
            L.append("- **Uniform task coverage (Condition 3.2) is not sufficient**: uniformly covering T_tr whose tasks all cross one "
                     "bipartition of the patterns (a two-class shortcut fits every training prompt) are REFUTED on unseen tasks: "
                     + "; ".join(f"shifts {set(r.shifts)} (|T_tr| = {r.n_train_tasks}, shortcut {r.shortcut:.2f}) at alpha = {r.alpha:g}: "
                                 f"error {np.mean([o.id.rate for o in r.outcomes]):.3f}" for r in bad)
                     + " (see the task-coverage table below; the regime check `regime_task_shortcut` flags them).")
        else:
            L.append("- Uniform task coverage: no uniformly covering T_tr shape was REFUTED (task-coverage table below).")
    L.append("")
    answers = [line for line in L[answers_from:] if line.strip()]
    L.append("### Which assumption matters first")
    L.append("")
    L.append("Ordered by the SPEC's bound verdicts pooled over replicates (see `rank_axes`): first the assumptions whose claim is "
             "REFUTED while they still hold, then those that break once violated, by severity at the crossing "
             "(severity = margin / scale; <= 0: the assumption holds; 1: fully violated: |cosine| for orthogonality, "
             "noise norm / pattern norm, 1 - beta, (K - 1/2) / (1/2), 1 - S1, ODI residual fraction, max |norm / mean - 1|), "
             "then those that never clearly break. The alpha rows probe hidden constants, not stated assumptions "
             "(severity 1 - min(alpha l_tr, alpha' l_ts)).")
    for dom, claim in ((ID, "in-domain"), (OOD, "OOD")):
        L.append("")
        L.append(f"**{claim}**")
        L.append("")
        L.append(tabulate(_ranking_rows(rank_axes(summaries, dom) + rank_axes(summaries, dom, "constant"), dom),
                          headers=RANK_HEADERS, tablefmt="github"))
    # ---- task graph
    if task_graph:
        L.append("")
        L.append("### Task coverage: is a uniformly covering T_tr enough?")
        L.append("")
        L.append("Every T_tr here covers each IDR pattern equally often on both label sides (Condition 3.2 holds); they differ in "
                 "which cyclic shifts (i, i + s mod 6) they use. Shortcut = completeness of the best bipartition of the patterns "
                 "that every training task crosses (assumptions.task_graph_shortcut; 0: none exists, 1: complete bipartite). "
                 f"Seeds chosen per shift set; {profile.replicates} replicates; pooled one-sided 95% Clopper-Pearson.")
        L.append("")
        trows = []
        for r in task_graph:
            for dom in (ID,):
                k, n, lo, hi, verdict = pooled_verdict(r.outcomes, dom, eps)
                trows.append([str(set(r.shifts)), r.n_train_tasks, f"{r.shortcut:.2f}", r.alpha,
                              " ".join(f"{o.id.rate:.3f}" for o in r.outcomes), f"{k}/{n} [{lo:.3f}, {hi:.3f}]", verdict])
        L.append(tabulate(trows, headers=["shifts", "|T_tr|", "shortcut", "alpha", "unseen-task error per replicate",
                                          "pooled [CP 95%]", "verdict"], tablefmt="github"))
    # ---- minimal configurations
    L.append("")
    L.append("## Minimal breaking configurations found by the fuzzer")
    L.append("")
    if minimal:
        L.append("Hypothesis drew configurations that bend one or two assumptions away from the anchor; each clearly failing one "
                 "(CP lower bound > eps) was shrunk toward the anchor one knob at a time, in batches (values at 0, 1/4, 1/2, 3/4 of "
                 "its departure per round), keeping the closest configuration that still fails. `violated` lists every assumption "
                 "the shrunk configuration violates, with its margin; `regime` checks are the hidden constants made concrete.")
        L.append("")
        rows = []
        for o, dom, orig in minimal:
            rows.append([dom, knob_text(o.run, anchor), o.run.seed, fmt(o.id.rate), fmt(o.ood.rate),
                         describe(o.report.violated(dom, "theory")), describe(o.report.violated(dom, "regime")),
                         knob_text(orig.run, anchor) if orig is not None else "-"])
        L.append(tabulate(rows, headers=["claim broken", "shrunk configuration (vs anchor)", "seed", "id err", "ood err",
                                         "violated theory assumptions (margin)", "violated regime checks", "as first found"],
                          tablefmt="github"))
    else:
        L.append("No clearly failing configuration in this campaign.")
    if campaign:
        L.append("")
        n_b = {d: sum(o.broke(d) for o in campaign) for d in (ID, OOD)}
        un = [o for o in campaign if o.unexplained("theory")]
        L.append(f"Campaign: {len(campaign)} configurations; in-domain claim broken in {n_b[ID]}, OOD in {n_b[OOD]}; "
                 f"broken with no theory assumption violated: {len(un)}"
                 + (f" ({'; '.join(knob_text(o.run, anchor) + ' -> ' + '/'.join(o.unexplained('theory')) for o in un[:6])})" if un else "") + ".")
        counts: dict[tuple[str, ...], list[int]] = {}
        for o in campaign:
            k = tuple(sorted({c.name for c in o.report.violated()})) or ("none",)
            c = counts.setdefault(k, [0, 0, 0])
            c[0] += 1
            c[1] += o.broke(ID)
            c[2] += o.broke(OOD)
        L.append("")
        L.append(tabulate([[", ".join(k), *v] for k, v in sorted(counts.items())],
                          headers=["violated assumptions", "configurations", "in-domain broken", "OOD broken"], tablefmt="github"))
    # ---- per-axis tables
    L.append("")
    L.append("## Sweeps, per axis")
    for s in summaries:
        L.append("")
        L.append(f"### `{s.axis.name}`: {s.axis.label}")
        L.append("")
        L.append(f"Bends `{s.axis.assumption}`. Fields set: {', '.join(s.axis.fields)}. Crossing in-domain: {s.crossing[ID].text()}; "
                 f"OOD: {s.crossing[OOD].text()}.")
        L.append("")
        rows = [[fmt(v), fmt(s.x[i]) if s.axis.group == "coherence" else "", fmt(s.margins[i]), *_domain_cells(s, i)]
                for i, v in enumerate(s.values)]
        L.append(tabulate(rows, headers=["value", "max coherence", "margin", "id error per replicate", "id pooled [CP 95%]", "id",
                                         "ood error per replicate", "ood pooled [CP 95%]", "ood"], tablefmt="github"))
        if s.budget is not None:
            b = s.budget
            L.append("")
            L.append(f"With {BUDGET_FACTOR}x steps ({profile.steps * BUDGET_FACTOR}), replicates 0..{b.err[ID].shape[1] - 1}: "
                     f"crossing in-domain {b.crossing[ID].text()}, OOD {b.crossing[OOD].text()}.")
            L.append("")
            brows = [[fmt(v), *_domain_cells(b, i)] for i, v in enumerate(b.values)]
            L.append(tabulate(brows, headers=["value", "id error per replicate", "id pooled [CP 95%]", "id", "ood error per replicate",
                                              "ood pooled [CP 95%]", "ood"], tablefmt="github"))
    L.append("")
    L.append("## Figures")
    L.append("")
    for k, p in figs.items():
        if p is not None:
            L.append(f"![{k}]({p.name})")
            L.append("")
    L.append("## How to reproduce")
    L.append("")
    L.append(f"`python -m harness.fuzz.campaign --profile {profile.name}` (the quick profile is `tox -e fuzz`). Every trained configuration "
             "is a JSON record under `results/fuzz/records/` (its full RunConfig, seed, assumption margins, error counts and verdicts); "
             "`harness.robustness.run_from_record` rebuilds the run bit for bit. Failing examples of the Hypothesis tests are kept in "
             "`results/fuzz/db/`.")
    text = "\n".join(L) + "\n"
    atomic_write_text(out / "report.md", text)
    summary = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "git_commit": git_commit(), "answers": answers,
        "profile": profile.name, "steps": profile.steps, "replicates": R, "n_test": profile.n_test, "eps": eps,
        "wall_seconds": wall_seconds,
        "axes": {
            s.axis.name: {
                "assumption": s.axis.assumption, "values": s.values, "x": s.x, "margins": s.margins,
                **{dom: {"crossing": dataclasses.asdict(s.crossing[dom]), "crossing_severity": dataclasses.asdict(s.crossing_severity[dom]),
                         "holds_up_to": s.holds_up_to[dom], "breaks_from": s.breaks_from[dom],
                         "error": s.err[dom].tolist(), "pooled": s.pooled[dom]} for dom in (ID, OOD)},
            } for s in summaries
        },
        "task_graph": [{"shifts": list(r.shifts), "n_train_tasks": r.n_train_tasks, "shortcut": r.shortcut, "alpha": r.alpha,
                        "id_error": [o.id.rate for o in r.outcomes], "pooled": pooled_verdict(r.outcomes, ID, eps)} for r in (task_graph or [])],
        "minimal": [{"domain": dom, "run": o.run.to_dict(), "violated": [c.name for c in o.report.violated(dom)],
                     "id_error": o.id.rate, "ood_error": o.ood.rate} for o, dom, _ in (minimal or [])],
    }
    atomic_write_text(out / "summary.json", json.dumps(json_safe(summary), indent=1, sort_keys=True))
    return out / "report.md"
