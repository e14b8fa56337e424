"""report.md from a RobustnessSummary: the answers, the ranking, the probes, the campaign and the
per-axis tables.

Rendering only: every number comes from harness.fuzz.summary. `answer_lines` are also what
summary.json stores as "answers" (the claim report quotes them)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tabulate import tabulate

from harness.fuzz.assumptions import ID, OOD, describe
from harness.fuzz.axis_summary import AxisSummary
from harness.fuzz.crossings import fmt
from harness.fuzz.profiles import BUDGET_FACTOR, CONFIDENCE
from harness.fuzz.ranking import Ranked
from harness.fuzz.render_axes import axis_tables
from harness.fuzz.summary import ClaimRanking, Headline, RobustnessSummary
from harness.world.config import DataConfig, RunConfig

CLAIM_NAMES = {ID: "in-domain", OOD: "OOD"}
RANK_HEADERS = [
    "axis",
    "assumption",
    "status",
    "crossing of eps (axis units)",
    "crossing (severity)",
    "max severity tried",
    "CONFIRMED up to",
    f"crossing with {BUDGET_FACTOR}x steps (first replicates)",
]


def knob_text(run: RunConfig, anchor: DataConfig) -> str:
    """The fields of a run's data that differ from the anchor, or 'anchor'."""
    diffs = [
        f"{f.name}={fmt(getattr(run.data, f.name))}"
        for f in dataclasses.fields(DataConfig)
        if getattr(run.data, f.name) != getattr(anchor, f.name)
    ]
    return ", ".join(diffs) if diffs else "anchor"


def _headline(h: Headline) -> str:
    s, dom = h.axis, h.domain
    more = (
        f" With {BUDGET_FACTOR}x steps ({len(s.budget.crossing[dom].values)} replicates): REFUTED "
        "from "
        f"{fmt(s.budget.breaks_from[dom])}, crossing {s.budget.crossing[dom].text()}."
        if s.budget is not None and s.breaks_from[dom] is not None
        else ""
    )
    return (
        f"- **{CLAIM_NAMES[dom]} vs {h.what}**: CONFIRMED at every grid point up to "
        f"{fmt(s.holds_up_to[dom])}, "
        f"REFUTED from {fmt(s.breaks_from[dom])}; error crosses eps at "
        f"{s.crossing[dom].text()}.{more}"
    )


def _claim_lines(c: ClaimRanking, steps: int) -> list[str]:
    dom, claim = c.domain, {ID: "In-domain claim", OOD: "OOD claim"}[c.domain]
    L = []
    f = c.first_at_budget
    if f is not None:
        L.append(
            f"- **{claim}: first assumption to matter at {steps} steps: "
            f"`{f.summary.axis.assumption}`** "
            f"(axis `{f.summary.axis.name}`: {f.status}; error crosses eps at "
            f"{f.summary.crossing[dom].text()})."
        )
    if c.breaking:
        f, rest = c.breaking[0], c.breaking[1:]
        L.append(
            f"  First whose break survives {BUDGET_FACTOR}x the steps: "
            f"**`{f.summary.axis.assumption}`** (axis "
            f"`{f.summary.axis.name}`: {f.status}; error crosses eps at "
            f"{f.summary.crossing[dom].text()}"
            + (
                f", with {BUDGET_FACTOR}x steps at {f.summary.budget.crossing[dom].text()}"
                if f.summary.budget is not None
                else ""
            )
            + ")."
        )
        if rest:
            L.append(
                "  Then: "
                + "; ".join(
                    f"`{r.summary.axis.assumption}` via `{r.summary.axis.name}` "
                    f"(crossing {r.summary.crossing[dom].text()})"
                    for r in rest
                )
                + "."
            )
    if c.budget_limited:
        L.append(
            f"  Breaks that {BUDGET_FACTOR}x the steps remove (the iteration budget, not the "
            "assumption): "
            + "; ".join(
                f"`{r.summary.axis.assumption}` via `{r.summary.axis.name}` ({r.status})"
                for r in c.budget_limited
            )
            + "."
        )
    if c.quiet:
        L.append(
            "  No clear break on the grid: "
            + "; ".join(
                f"`{r.summary.axis.name}` up to {fmt(r.summary.values[-1])}"
                + (f" ({r.status})" if r.key[0] == 2 else "")
                for r in c.quiet
            )
            + "."
        )
    if c.constants:
        L.append(
            "  Hidden constants (the literal condition l >= 1/alpha holds with slack where the "
            "claim breaks; what "
            "runs out is the iteration budget or the same-pattern contexts): "
            + "; ".join(
                f"`{r.summary.axis.name}` crosses eps at {r.summary.crossing[dom].text()}"
                for r in c.constants
            )
            + "."
        )
    return L


def answer_lines(s: RobustnessSummary) -> list[str]:
    """The headline answers: each claim against the headline axes, which assumption matters first,
    task coverage."""
    L = [_headline(h) for h in s.headlines]
    for c in s.claims:
        L += _claim_lines(c, s.profile.steps)
    if s.task_graph:
        bad = s.task_graph_refuted
        if bad:
            L.append(
                "- **Uniform task coverage (Condition 3.2) is not sufficient**: uniformly covering "
                "T_tr whose tasks all cross one "
                "bipartition of the patterns (a two-class shortcut fits every training prompt) are "
                "REFUTED on unseen tasks: "
                + "; ".join(
                    f"shifts {set(t.row.shifts)} (|T_tr| = {t.row.n_train_tasks}, shortcut "
                    f"{t.row.shortcut:.2f}) at "
                    f"alpha = {t.row.alpha:g}: error {t.mean_error:.3f}"
                    for t in bad
                )
                + " (see the task-coverage table below; the regime check"
                " `regime_task_shortcut` flags them)."
            )
        else:
            L.append(
                "- Uniform task coverage: no uniformly covering T_tr shape was REFUTED "
                "(task-coverage table below)."
            )
    return L


def _intro(s: RobustnessSummary) -> list[str]:
    p, a, R = s.profile, s.anchor, s.profile.replicates
    return [
        "# Where the assumptions break: robustness of the in-context-learning claims",
        "",
        f"Profile `{p.name}`: {p.steps} SGD steps (B = 64, eta = 1), {R} replicates per grid point "
        f"(seeds shared across grid points), {p.n_test} fresh test prompts per member and domain, "
        f"eps = {s.eps:g}. "
        f"Anchor: the paper's orthogonal world (M1 = {a.M1}, M2 = {a.M2}, dX = {a.dX}, beta = "
        f"{a.beta:g}, "
        f"K = {a.K:g}, alpha = {a.alpha:g}, l = {a.l_tr}) at S1 = {a.S1:g}; each axis bends one "
        "assumption. "
        f"In-domain = error on the unseen tasks T \\ T_tr; OOD = error on the ODR tasks."
        + (f" Wall time {s.wall_seconds:.0f} s." if s.wall_seconds is not None else ""),
        "",
        "Crossing = where the error first exceeds eps, interpolated linearly per replicate between "
        "neighbouring grid points; "
        f"interval = two-sided {CONFIDENCE:.0%} t interval over the {R} replicates (none when a "
        "replicate is censored). "
        "Holds up to / breaks from = the bound rule of docs/verdicts.md on the counts pooled over "
        "replicates "
        "(one-sided 95% Clopper-Pearson: "
        "CONFIRMED if the upper bound <= eps, REFUTED if the lower bound > eps and the exact "
        "binomial test rejects error <= eps at 5%: "
        "the claims' bound rule, harness.claims.stats.bound_decision).",
        "",
    ]


def _budget_text(s: AxisSummary, dom: str) -> str:
    if s.budget is None or s.breaks_from[dom] is None:
        return "-"
    return s.budget.crossing[dom].text()


def _ranking_rows(ranked: list[Ranked], dom: str) -> list[list[str]]:
    return [
        [
            r.summary.axis.name,
            r.summary.axis.assumption,
            r.status,
            r.summary.crossing[dom].text(),
            r.summary.crossing_severity[dom].text(),
            fmt(max(r.summary.severities)),
            fmt(r.summary.holds_up_to[dom]),
            _budget_text(r.summary, dom),
        ]
        for r in ranked
    ]


def _ranking(s: RobustnessSummary) -> list[str]:
    L = [
        "### Which assumption matters first",
        "",
        "Ordered by the bound verdicts of docs/verdicts.md pooled over replicates (see "
        "`rank_axes`): first the "
        "assumptions whose claim is "
        "REFUTED while they still hold, then those that break once violated, by severity at the "
        "crossing "
        "(severity = margin / scale; <= 0: the assumption holds; 1: fully violated: |cosine| for "
        "orthogonality, "
        "noise norm / pattern norm, 1 - beta, (K - 1/2) / (1/2), 1 - S1, ODI residual fraction, "
        "max |norm / mean - 1|), "
        "then those that never clearly break. The alpha rows probe hidden constants, not stated "
        "assumptions "
        "(severity 1 - min(alpha l_tr, alpha' l_ts)).",
    ]
    for c in s.claims:
        L += [
            "",
            f"**{CLAIM_NAMES[c.domain]}**",
            "",
            tabulate(
                _ranking_rows(c.ranked + c.constants, c.domain),
                headers=RANK_HEADERS,
                tablefmt="github",
            ),
        ]
    return L


def _task_graph(s: RobustnessSummary) -> list[str]:
    if not s.task_graph:
        return []
    rows = [
        [
            str(set(t.row.shifts)),
            t.row.n_train_tasks,
            f"{t.row.shortcut:.2f}",
            t.row.alpha,
            " ".join(f"{o.id.rate:.3f}" for o in t.row.outcomes),
            t.pooled.text(),
            t.pooled.verdict,
        ]
        for t in s.task_graph
    ]
    return [
        "",
        "### Task coverage: is a uniformly covering T_tr enough?",
        "",
        "Every T_tr here covers each IDR pattern equally often on both label sides (Condition 3.2 "
        "holds); they differ in "
        "which cyclic shifts (i, i + s mod 6) they use. Shortcut = completeness of the best "
        "bipartition of the patterns "
        "that every training task crosses (assumptions.task_graph_shortcut; 0: none exists, 1: "
        "complete bipartite). "
        f"Seeds chosen per shift set; {s.profile.replicates} replicates; pooled one-sided 95% "
        "Clopper-Pearson.",
        "",
        tabulate(
            rows,
            headers=[
                "shifts",
                "|T_tr|",
                "shortcut",
                "alpha",
                "unseen-task error per replicate",
                "pooled [CP 95%]",
                "verdict",
            ],
            tablefmt="github",
        ),
    ]


def _minimal(s: RobustnessSummary) -> list[str]:
    L = ["", "## Minimal breaking configurations found by the fuzzer", ""]
    if s.minimal:
        L += [
            "Hypothesis drew configurations that bend one or two assumptions away from the anchor; "
            "each clearly failing one "
            "(CP lower bound > eps) was shrunk toward the anchor one knob at a time, in batches "
            "(values at 0, 1/4, 1/2, 3/4 of "
            "its departure per round), keeping the closest configuration that still fails. "
            "`violated` lists every assumption "
            "the shrunk configuration violates, with its margin; `regime` checks are the hidden "
            "constants made concrete.",
            "",
        ]
        rows = [
            [
                m.domain,
                knob_text(m.outcome.run, s.anchor),
                m.outcome.run.seed,
                fmt(m.outcome.id.rate),
                fmt(m.outcome.ood.rate),
                describe(m.outcome.report.violated(m.domain, "theory")),
                describe(m.outcome.report.violated(m.domain, "regime")),
                knob_text(m.original.run, s.anchor) if m.original is not None else "-",
            ]
            for m in s.minimal
        ]
        L.append(
            tabulate(
                rows,
                headers=[
                    "claim broken",
                    "shrunk configuration (vs anchor)",
                    "seed",
                    "id err",
                    "ood err",
                    "violated theory assumptions (margin)",
                    "violated regime checks",
                    "as first found",
                ],
                tablefmt="github",
            )
        )
    else:
        L.append("No clearly failing configuration in this campaign.")
    c = s.campaign
    if c is not None:
        un = c.unexplained
        L += [
            "",
            f"Campaign: {c.n} configurations; in-domain claim broken in {c.broken[ID]}, OOD in "
            f"{c.broken[OOD]}; "
            f"broken with no theory assumption violated: {len(un)}"
            + (
                " "
                "("
                + "; ".join(
                    knob_text(o.run, s.anchor) + " -> " + "/".join(o.unexplained("theory"))
                    for o in un[:6]
                )
                + ")"
                if un
                else ""
            )
            + ".",
            "",
            tabulate(
                [
                    [", ".join(k), v.configurations, v.broken_id, v.broken_ood]
                    for k, v in c.by_violated.items()
                ],
                headers=[
                    "violated assumptions",
                    "configurations",
                    "in-domain broken",
                    "OOD broken",
                ],
                tablefmt="github",
            ),
        ]
    return L


def render_markdown(s: RobustnessSummary, figures: dict[str, Path | None]) -> str:
    """The whole report.md; `figures` maps a figure name to its PNG (None: not drawn)."""
    answers = answer_lines(s)
    n_head = len(s.headlines)
    L = _intro(s) + ["## Answers", "", *answers[:n_head], "", *answers[n_head:], ""]
    L += _ranking(s) + _task_graph(s) + _minimal(s) + axis_tables(s)
    L += ["", "## Figures", ""]
    for k, p in figures.items():
        if p is not None:
            L += [f"![{k}]({p.name})", ""]
    L += [
        "## How to reproduce",
        "",
        f"`iclcheck fuzz --profile {s.profile.name}` (or `python -m harness fuzz`; the quick "
        "profile is `tox -e fuzz`). Every trained "
        "configuration is a JSON record under `results/fuzz/records/` (its full RunConfig, seed, "
        "assumption margins, error counts and "
        "verdicts); `harness.fuzz.records.run_from_record` rebuilds the run bit for bit. Failing "
        "examples of the Hypothesis tests are kept in "
        "`results/fuzz/db/`.",
    ]
    return "\n".join(L) + "\n"
