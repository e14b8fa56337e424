"""The claim report of one run: report.md (header, verdict table, each claim in detail with its
figures), verdicts.json, and the HTML page and badge beside them.

Figures: one per claim from its verdict (harness.report.kind_figures), plus the paper-comparison
figure a claim file asks for (harness.report.figures). Compare and history across runs:
harness.report.compare."""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness.claims.record import Record
from harness.claims.verdicts import Verdict
from harness.core.jsonio import atomic_write_text
from harness.report import (
    figure_reproduction,  # noqa: F401  (registers the figure kind's drawer)
    ledger_section,
    world_section,
)
from harness.report.control_section import control_items
from harness.report.figures import draw, table
from harness.report.html import counts_of, write_html
from harness.report.kind_figures import draw_kind_figure
from harness.report.multiverse_section import draw_all as draw_multiverse
from harness.report.multiverse_section import label_of, section_lines
from harness.report.terminal import control_text, outcome_name, p_sentence, p_text
from harness.run.provenance import provenance

VERDICTS_SCHEMA = 2  # verdicts.json layout: 2 adds schema_version, counts and each claim's figures


FAMILY_NOTE = {
    "holm": "Holm's procedure controls the family-wise error rate under arbitrary dependence"
    " between the claims' p-values, so it stays valid when claims share trained models"
    " (and so are dependent).",
    "bh": "Benjamini-Hochberg controls the false discovery rate under independence or positive"
    " dependence of the p-values; claims that share trained models are dependent, so Holm is"
    " the safe choice.",
}


def verdict_dict(v: Verdict) -> dict[str, Any]:
    return dataclasses.asdict(v)


def _outcome(v: Verdict) -> str:
    return outcome_name(v)


def record_commits(records: list[Record]) -> dict[str, int]:
    """How many of `records` each git commit wrote, most first: a report rebuilt from a store names
    the code that trained it, not only the code that judged it."""
    return dict(Counter(r.provenance.git_commit for r in records).most_common())


def claim_figures(runs: list[Any]) -> dict[str, tuple[str, list[Record]]]:
    """Claim id -> (figure kind, records) for the claim runs whose file asks for a figure."""
    return {r.claim.id: (r.claim.figure, r.records) for r in runs if r.claim.figure}


def run_totals(runs: list[Any]) -> dict[str, Any]:
    """The report header's counts over claim runs (objects with `counts` and `records`, as
    runner.run_claim returns): models trained and reused, training seconds recorded (each ensemble
    once), commits that wrote the records, and per claim the records reused from other code
    (--reuse-stale) with their code fingerprints; the plan's units requested and models planned, and
    per claim which other claims share its models."""
    records = [rec for r in runs for rec in r.records]
    stale = {
        r.claim.id: {
            "records": len(r.stale_records),
            "fingerprints": sorted({rec.fingerprint for rec in r.stale_records}),
        }
        for r in runs
        if r.stale_records
    }
    planned = next((r.planned for r in runs if getattr(r, "planned", None)), {})
    shares = {
        r.claim.id: r.sharing.text()
        for r in runs
        if getattr(r, "sharing", None) and r.sharing.shared
    }
    return {
        "models_trained": sum(r.counts["done"] for r in runs),
        "models_reused": sum(r.counts["skipped"] for r in runs),
        "models_measured": sum(r.counts.get("measured", 0) for r in runs),
        "train_seconds_in_records": sum(rec.timing.train_seconds_per_model for rec in records),
        "record_commits": record_commits(records),
        "reused_from_other_code": stale,
        **planned,
        "shared_models": shares,
    }


def _regime_line(verdicts: list[Verdict]) -> list[str]:
    """The regime the claims ran under, where it is not the claim files' own setting (each claim
    names the values the regime set in its readings)."""
    names = sorted({v.regime for v in verdicts} - {"default"})
    if not names:
        return []
    return [
        f"- regime {', '.join(f'`{n}`' for n in names)} (claims/_regimes.toml): its values "
        "override the claim files' setting; a reading it overrides says so in the claim's notes"
    ]


def _wall_time(meta: dict[str, Any]) -> str:
    """The run's wall time, said as what it was: a report rebuilt from the store timed only the
    judging."""
    seconds = meta.get("seconds", 0)
    if meta.get("models_trained") == 0 and meta.get("models_reused"):
        return (
            f"rebuilt from the store (nothing trained): {seconds:.0f} s to judge and report; the "
            "training time is the "
            f"{meta.get('train_seconds_in_records', 0):.0f} s recorded in the records"
        )
    return f"wall time {seconds:.0f} s"


def _multiverse_totals(t: dict[str, Any] | None) -> str:
    """' (N alternative runs, M skipped with reasons; K models trained, R reused, S s)' from the
    run's meta."""
    if not t:
        return ""
    return (
        f" ({t['alternatives_run']} alternative runs, {t['alternatives_skipped']} skipped with "
        "reasons; "
        f"{t['models_trained']} models trained, {t['models_reused']} reused, {t['seconds']:.0f} s)"
    )


def summary_table(
    verdicts: list[Verdict],
    fmt: str = "github",
    multiverse: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The verdict table; its robustness column is the claim's multiverse label (— when no
    multiverse ran)."""
    mv = multiverse or {}
    rows = [
        [
            v.claim_id,
            v.source,
            v.prediction,
            v.measurement,
            v.over,
            f"{v.n_points} x {v.n_replicates}",
            "; ".join(filter(None, (_outcome(v), p_text(v), ledger_section.marker(v)))),
            control_text(v),
            label_of(mv.get(v.claim_id)),
        ]
        for v in verdicts
    ]
    return tabulate(
        rows,
        headers=[
            "claim",
            "source",
            "prediction",
            "measurement (interval)",
            "interval over",
            "points x seeds",
            "verdict",
            "control",
            "robustness",
        ],
        tablefmt=fmt,
    )


def robustness_section(run_dir: Path, folder: Path | None) -> list[str]:
    """The headline answers of the robustness (fuzzing) report in `folder`, linked, for the claim
    report; [] if none."""
    if folder is None or not (Path(folder) / "summary.json").is_file():
        return []
    folder = Path(folder)
    try:
        s = json.loads((folder / "summary.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        return [
            "",
            "## Robustness: where the assumptions break",
            "",
            f"(unreadable {folder / 'summary.json'}: {e})",
        ]
    link = os.path.relpath(folder / "report.md", run_dir)
    try:  # machine.json: written with a committed reference (`iclcheck fuzz --refresh-reference`)
        m = json.loads((folder / "machine.json").read_text())
        ran_on = (
            f", on {m.get('cpu', '?')} with {m.get('threads', '?')} threads, torch "
            f"{m.get('torch', '?')}"
        )
    except (OSError, json.JSONDecodeError, AttributeError):
        ran_on = ""
    return [
        "",
        "## Robustness: where the assumptions break",
        "",
        f"From the fuzzing report [{link}]({link}): profile `{s.get('profile', '?')}`, commit "
        f"`{s.get('git_commit', '?')}`, "
        f"written {s.get('created', '?')}{ran_on} (`tox -e fuzz` writes a local one to "
        "results/fuzz/latest/, "
        f"`iclcheck fuzz --refresh-reference` the committed one).",
        "",
        *s.get("answers", []),
    ]


def write_report(
    run_dir: str | Path,
    verdicts: list[Verdict],
    meta: dict[str, Any],
    device: str = "cpu",
    figures: dict[str, tuple[str, list[Record]]] | None = None,
    robustness: Path | None = None,
    multiverse: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """report.md, verdicts.json and plots/ under run_dir; returns the report path.

    `figures` maps a claim id to (figure kind, its records) for the paper-comparison figures;
    `robustness` is the fuzzing report folder whose answers join the report
    (run.paths.robustness_report_dir; None: leave them out); `multiverse` maps a claim id to its
    multiverse block (harness.run.multiverse_run), stored in verdicts.json."""
    run_dir = Path(run_dir)
    plots = run_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    meta = {**meta, **dataclasses.asdict(provenance(device))}
    plot_of: dict[str, str] = {}
    for v in verdicts:
        p = draw_kind_figure(v, plots / f"{v.claim_id}.png")
        if p:
            plot_of[v.claim_id] = f"plots/{p.name}"
    extra_of: dict[str, str] = {}
    table_of: dict[str, list[dict[str, Any]]] = {}
    for cid, (kind, records) in (figures or {}).items():
        p = draw(kind, records, f"{cid}: measured beside the paper", plots / f"{cid}-{kind}.png")
        if p:
            extra_of[cid] = f"plots/{p.name}"
        rows = table(kind, records)
        if rows:
            table_of[cid] = rows
    mv = multiverse or {}
    curve_of = draw_multiverse(mv, plots)
    figures_of = {
        v.claim_id: [
            f
            for f in (plot_of.get(v.claim_id), extra_of.get(v.claim_id), curve_of.get(v.claim_id))
            if f
        ]
        for v in verdicts
    }
    stored = [
        dict(
            verdict_dict(v),
            figures=figures_of[v.claim_id],
            robustness=label_of(mv.get(v.claim_id)),
            **({"multiverse": mv[v.claim_id]} if v.claim_id in mv else {}),
        )
        for v in verdicts
    ]
    counts = counts_of(verdicts)
    lines = [
        f"# Claim report: profile `{meta.get('profile')}`",
        "",
        *_regime_line(verdicts),
        f"- commit `{meta['git_commit']}`, device `{meta['device']}`, torch "
        f"{meta['versions']['torch']}, harness {meta['versions']['harness']}",
        f"- started {meta.get('started', '?')}, {_wall_time(meta)}, executor "
        f"`{meta.get('executor', '?')}`",
        f"- {meta.get('models_trained', '?')} models trained in this run, "
        f"{meta.get('models_measured', 0)} measured on stored models, "
        f"{meta.get('models_reused', '?')} records reused from the store; "
        f"training time recorded in the records: {meta.get('train_seconds_in_records', 0):.0f} s "
        "(each ensemble once)",
        *(
            [
                "- records written at commit "
                f"{', '.join(f'`{c}` ({n})' for c, n in meta['record_commits'].items())}"
            ]
            if meta.get("record_commits")
            else []
        ),
        *(
            [
                "- **reused from other code** (--reuse-stale, not retrained): "
                + "; ".join(
                    f"`{cid}` {v['records']} records (code fingerprint "
                    f"{', '.join(v['fingerprints'])})"
                    for cid, v in meta["reused_from_other_code"].items()
                )
            ]
            if meta.get("reused_from_other_code")
            else []
        ),
        *(
            [
                f"- planned together: the claims ask for {meta['units_requested']} models, "
                f"{meta['models_planned']} distinct "
                "(a model that several claims train is trained once and shared; "
                f"{len(meta.get('shared_models') or {})} claims share models)"
            ]
            if meta.get("units_requested")
            else []
        ),
        f"- family-wise control of refutations: {meta.get('family', 'holm')}. "
        f"{FAMILY_NOTE.get(meta.get('family', 'holm'), '')}",
        f"- verdicts: {len(verdicts)} claims, " + ", ".join(f"{n} {o}" for o, n in counts.items()),
        *(
            [
                "- multiverse: "
                + ", ".join(
                    f"{n} {lab}"
                    for lab, n in Counter(label_of(b) for b in mv.values()).most_common()
                )
                + _multiverse_totals(meta.get("multiverse"))
                + f"; {next(iter(mv.values())).get('correction', '')}"
            ]
            if mv
            else []
        ),
        "",
        summary_table(verdicts, multiverse=mv),
        *world_section.markdown_lines(verdicts),
        "",
        "## Claims in detail",
    ]
    for v in verdicts:
        lines += [
            "",
            f"### {v.claim_id}: {outcome_name(v)}" + (" (re-planned)" if v.plan_changes else ""),
            "",
            f"*{v.source}.* {v.statement}",
            "",
            f"- prediction: {v.prediction}",
            f"- measurement: {v.measurement}",
            f"- interval over: {v.over}",
            *([f"- refutation p-value: {p_sentence(v)}"] if p_sentence(v) else []),
            *(f"- {k}: {text}" for k, text in control_items(v)),
        ]
        if v.paper_trend:
            lines.append(f"- paper reports: {v.paper_trend}")
        if v.expected:
            lines.append(f"- recorded expectation: {v.expected[0]} ({v.expected[1]})")
        lines += ledger_section.markdown_lines(v)
        lines += [f"- note: {n}" for n in v.notes]
        shared = v.details.get("shared_models")
        if shared and shared.get("shared"):
            lines.append(
                f"- models: shares {shared['shared']} of its {shared['models']} models with: "
                f"{', '.join(shared['with'])}"
            )
        pts = v.details.get("points")
        if pts:
            lines += [
                "",
                tabulate(
                    [{k: _short(val) for k, val in p.items()} for p in pts],
                    headers="keys",
                    tablefmt="github",
                ),
            ]
        if v.claim_id in plot_of:
            lines += ["", f"![{v.claim_id}]({plot_of[v.claim_id]})"]
        if v.claim_id in table_of:
            lines += [
                "",
                tabulate(
                    [{k: _short(val) for k, val in r.items()} for r in table_of[v.claim_id]],
                    headers="keys",
                    tablefmt="github",
                ),
            ]
        if v.claim_id in extra_of:
            lines += ["", f"![{v.claim_id}: beside the paper]({extra_of[v.claim_id]})"]
        if v.claim_id in mv:
            lines += section_lines(v.claim_id, mv[v.claim_id], curve_of.get(v.claim_id))
    lines += robustness_section(run_dir, robustness)
    report = run_dir / "report.md"
    atomic_write_text(report, "\n".join(lines) + "\n")
    atomic_write_text(
        run_dir / "verdicts.json",
        json.dumps(
            {"schema_version": VERDICTS_SCHEMA, "meta": meta, "counts": counts, "verdicts": stored},
            indent=1,
            default=str,
        ),
    )
    earlier = sorted(
        d.parent for d in run_dir.parent.glob("*/verdicts.json") if d.parent.name < run_dir.name
    )
    write_html(run_dir, earlier)
    return report


def _short(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.4g}")
    if isinstance(v, dict):
        return ", ".join(f"{k}={val}" for k, val in v.items())
    return v
