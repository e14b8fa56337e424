"""A self-contained single-page HTML report of one run, and a shields-style badge.

Rendered from what a run folder already holds (verdicts.json and plots/*.png), so a report rebuilt
from the store, or one copied off a CI machine, renders the same. Figures are embedded as base64
PNGs; nothing is fetched from the network. Per claim: a verdict badge, the prediction beside the
measurement with its interval, the notes, the re-planning log ([[changes]], with the old verdict),
the figures, the multiverse table when the run has one, and a sparkline of the claim's verdicts over
earlier runs. A text box filters the claims by id, verdict or source."""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.jsonio import atomic_write_text
from harness.report import ledger_section
from harness.report.control_section import control_items
from harness.report.run_folders import StoredVerdict, load_run
from harness.report.terminal import control_text, p_sentence, p_text

OUTCOMES = ("CONFIRMED", "REFUTED", "INCONCLUSIVE", "ERROR")
COLOURS = {
    "CONFIRMED": "#2e7d32",
    "REFUTED": "#c62828",
    "INCONCLUSIVE": "#9e9e9e",
    "ERROR": "#6a1b9a",
    "EXPECTED": "#ef6c00",
}

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#263238;color:#fff;padding:16px 24px}header h1{margin:0 0 6px;font-size:20px}
header p{margin:2px 0;font-size:13px;color:#cfd8dc}main{padding:16px 24px;max-width:1200px}
.counts span{display:inline-block;margin-right:8px}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;color:#fff;font-size:12px;
font-weight:600}
#filter{width:320px;padding:6px;margin:12px 0;font-size:14px}
table.summary{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
table.summary td,table.summary th{border-bottom:1px solid #e0e0e0;padding:6px 8px;text-align:left;
vertical-align:top}
section.claim{background:#fff;border:1px solid #e0e0e0;border-radius:6px;margin:16px 0;
padding:12px 16px}
section.claim h2{font-size:16px;margin:0 0 6px}section.claim dl{font-size:13px;margin:6px 0}
section.claim dt{font-weight:600;float:left;width:130px}section.claim dd{margin:0 0 4px 140px}
section.claim img{max-width:560px;width:100%;margin:6px 8px 0 0;border:1px solid #eee}
table.mv{border-collapse:collapse;font-size:12px;margin-top:6px}
table.mv td,table.mv th{border:1px solid #ddd;padding:3px 6px}
.replanned{color:#5d6d7e;font-size:12px}.spark{vertical-align:middle}.muted{color:#777;font-size:12px}
"""

SCRIPT = """
window.addEventListener('DOMContentLoaded',function(){
  var box=document.getElementById('filter');
  function apply(){var q=box.value.toLowerCase();
    document.querySelectorAll('[data-claim]').forEach(function(el){
      el.style.display=(el.getAttribute('data-search').indexOf(q)>=0)?'':'none';});}
  box.addEventListener('input',apply);
  document.body.setAttribute('data-rendered',String(document.querySelectorAll('section.claim').length));
});
"""


@dataclass(frozen=True)
class RunPage:
    """What one page shows: the run's meta and verdicts (read back by run_folders.load_run) and its
    folder."""

    run_dir: Path
    meta: dict[str, Any]
    verdicts: list[StoredVerdict]


def _measured_or_skipped(row: dict) -> object:
    """A multiverse row's measurement when it ran, else why it was skipped."""
    return row.get("measurement") if row.get("status") == "ran" else row.get("skipped", "")


def outcome_of(v: Any) -> str:
    """A verdict's one name: its verdict, or EXPECTED when it matches the claim's recorded
    expectation."""
    return "EXPECTED" if v.matches_expectation else v.verdict


def counts_of(verdicts: list[Any]) -> dict[str, int]:
    """Claims per verdict (recorded expectations counted under their verdict)."""
    return {o: sum(v.verdict == o for v in verdicts) for o in OUTCOMES}


def _badge(v: StoredVerdict) -> str:
    o = outcome_of(v)
    label = f"{v.verdict} (recorded)" if o == "EXPECTED" else o
    return (
        '<span class="badge" '
        f'style="background:{COLOURS.get(o, "#555")}">{html.escape(label)}</span>'
    )


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _figures(run_dir: Path, v: StoredVerdict) -> list[Path]:
    """The PNGs the run recorded for a claim (verdicts.json lists them per claim), those that
    exist."""
    return [run_dir / f for f in v.figures if (run_dir / f).is_file()]


def _sparkline(history: list[str]) -> str:
    """An inline SVG: one square per earlier run, coloured by that run's outcome for the claim."""
    if not history:
        return '<span class="muted">no earlier runs</span>'
    cells = "".join(
        f'<rect x="{i * 9}" y="0" width="8" height="12" '
        f'fill="{COLOURS.get(o, "#ccc")}"><title>{o}</title></rect>'
        for i, o in enumerate(history)
    )
    return f'<svg class="spark" width="{9 * len(history)}" height="12" role="img">{cells}</svg>'


def _multiverse(v: StoredVerdict) -> str:
    """The claim's multiverse table (alternative, verdict, measurement or skip reason, why) when the
    run has one."""
    block = v.multiverse or {}
    rows = block.get("alternatives") or []
    if not rows:
        return ""
    main = block.get("main", {})
    body = (
        f"<tr><td><b>main setting</b></td><td><b>{html.escape(str(main.get('verdict')))}</b></td>"
        f"<td>{html.escape(str(main.get('measurement', '')))}</td><td></td></tr>"
    )
    body += "".join(
        f"<tr><td>{html.escape(str(r.get('name')))}</td>"
        f"<td>{html.escape(str(r.get('verdict') if r.get('status') == 'ran' else 'skipped'))}</td>"
        f"<td>{html.escape(str(_measured_or_skipped(r)))}</td>"
        f"<td>{html.escape(str(r.get('why', '')))}</td></tr>"
        for r in rows
    )
    label = html.escape(v.robustness)
    return (
        f"<p><b>Multiverse</b> {label} <span "
        f"class='muted'>{html.escape(str(block.get('correction', '')))}</span></p>"
        "<table "
        f"class='mv'><tr><th>alternative</th><th>verdict</th><th>measurement</th><th>why</th></tr>{body}</table>"
    )


def _p(v: StoredVerdict) -> str:
    """' p=6.3e-11' beside a REFUTED badge (the verdict's refutation p-value)."""
    return f" <span class='muted'>{html.escape(p_text(v))}</span>" if p_text(v) else ""


def _replanned(v: StoredVerdict) -> str:
    mark = ledger_section.marker(v)
    return f"<br><span class='replanned'>{html.escape(mark)}</span>" if mark else ""


def _claim_section(page: RunPage, v: StoredVerdict, history: list[str]) -> str:
    cid = v.claim_id
    search = html.escape(f"{v.claim_id} {v.verdict} {v.source} {outcome_of(v)}".lower())
    items = [
        ("source", v.source),
        ("statement", v.statement),
        ("prediction", v.prediction),
        ("measurement", v.measurement),
        ("interval over", v.over),
        ("points x seeds", f"{v.n_points} x {v.n_replicates}"),
    ]
    if p_sentence(v):
        items.append(("refutation p", p_sentence(v)))
    items += control_items(v)
    if v.paper_trend:
        items.append(("paper reports", v.paper_trend))
    if v.expected:
        items.append(("recorded", f"{v.expected[0]}: {v.expected[1]}"))
    items += ledger_section.html_items(v)
    items += [("note", n) for n in v.notes]
    shared = (v.details or {}).get("shared_models") or {}
    if shared.get("shared"):  # the run planner's sharing across claims (harness.run.plan)
        items.append(
            (
                "models",
                f"shares {shared['shared']} of its {shared['models']} models with: "
                f"{', '.join(shared['with'])}",
            )
        )
    dl = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(val))}</dd>" for k, val in items)
    figs = "".join(_img(p) for p in _figures(page.run_dir, v))
    return (
        f'<section class="claim" id="{html.escape(cid)}" data-claim="{html.escape(cid)}" '
        f'data-search="{search}">'
        f"<h2>{html.escape(cid)} {_badge(v)} "
        f"{_sparkline(history)}</h2><dl>{dl}</dl>{_multiverse(v)}"
        f"<div>{figs}</div></section>"
    )


def _summary_rows(verdicts: list[StoredVerdict]) -> str:
    rows = []
    for v in verdicts:
        cid = html.escape(v.claim_id)
        search = html.escape(f"{v.claim_id} {v.verdict} {v.source} {outcome_of(v)}".lower())
        rows.append(
            f'<tr data-claim="{cid}" data-search="{search}"><td><a '
            f'href="#{cid}">{cid}</a></td><td>{_badge(v)}{_p(v)}{_replanned(v)}</td>'
            f"<td>{html.escape(v.prediction)}</td><td>{html.escape(v.measurement)}</td>"
            f"<td>{html.escape(control_text(v))}</td>"
            f"<td>{html.escape(v.robustness or '—')}</td></tr>"
        )
    return "".join(rows)


def render(page: RunPage, history: dict[str, list[str]] | None = None) -> str:
    """The page's HTML text; `history` maps a claim id to its outcomes in earlier runs, oldest
    first."""
    history = history or {}
    m = page.meta
    counts = counts_of(page.verdicts)
    count_html = "".join(
        f'<span><span class="badge" style="background:{COLOURS[o]}">{n} {o}</span></span>'
        for o, n in counts.items()
    )
    sections = "".join(_claim_section(page, v, history.get(v.claim_id, [])) for v in page.verdicts)
    title = f"Claim report: profile {m.get('profile', '?')}"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta "
        f"charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body><header><h1>{html.escape(title)}</h1>"
        f"<p>commit {html.escape(str(m.get('git_commit', '?')))} | device "
        f"{html.escape(str(m.get('device', '?')))} | "
        f"started {html.escape(str(m.get('started', '?')))} | family-wise control "
        f"{html.escape(str(m.get('family', '?')))}</p>"
        f"<p class='counts'>{count_html}</p></header><main>"
        "<input id='filter' type='search' placeholder='filter claims: id, verdict or source' "
        "aria-label='filter claims'>"
        "<table "
        "class='summary'><thead><tr><th>claim</th><th>verdict</th><th>prediction</th><th>measurement</th><th>control</th><th>robustness</th></tr>"
        f"</thead><tbody>{_summary_rows(page.verdicts)}</tbody></table>{sections}</main></body></html>"
    )


def read_page(run_dir: Path) -> RunPage:
    """The run folder as a page (read and checked by run_folders.load_run; RunFolderError, a
    ValueError, names it)."""
    run = load_run(run_dir)
    return RunPage(Path(run_dir), run.meta, run.verdicts)


def outcome_history(run_dirs: list[Path], profile: str | None = None) -> dict[str, list[str]]:
    """Claim id -> outcomes over the given earlier runs (oldest first), only runs of `profile` when
    given (a quick run's outcomes say nothing of a nightly one); unreadable runs are skipped."""
    out: dict[str, list[str]] = {}
    for d in run_dirs:
        try:
            page = read_page(d)
        except ValueError:
            continue
        if profile is not None and page.meta.get("profile") != profile:
            continue
        for v in page.verdicts:
            out.setdefault(v.claim_id, []).append(outcome_of(v))
    return out


def badge(verdicts: list[Any]) -> dict[str, Any]:
    """A shields.io endpoint badge: the counts by verdict, red if any verdict is unexpectedly
    REFUTED or ERROR."""
    counts = counts_of(verdicts)
    bad = any(v.verdict in ("REFUTED", "ERROR") and outcome_of(v) != "EXPECTED" for v in verdicts)
    message = " | ".join(f"{n} {o.lower()}" for o, n in counts.items() if n)
    return {
        "schemaVersion": 1,
        "label": "claims",
        "message": message or "none",
        "color": "red" if bad else ("green" if counts["CONFIRMED"] else "lightgrey"),
    }


def write_html(run_dir: str | Path, earlier_runs: list[Path] | None = None) -> Path:
    """report.html and badge.json beside a run's verdicts.json; returns the page's path."""
    page = read_page(Path(run_dir))
    earlier = [d for d in (earlier_runs or []) if Path(d).resolve() != page.run_dir.resolve()]
    out = page.run_dir / "report.html"
    atomic_write_text(out, render(page, outcome_history(earlier, page.meta.get("profile"))))
    atomic_write_text(
        page.run_dir / "badge.json", json.dumps(badge(page.verdicts), indent=1) + "\n"
    )
    return out
