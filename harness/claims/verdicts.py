"""From stored records to one verdict per claim: CONFIRMED, REFUTED, INCONCLUSIVE or ERROR.

The rules are SPEC section 3. ERROR (crashed or diverged runs, the cap hit too
often, too few valid grid points) is never reported as REFUTED or CONFIRMED.
A REFUTED verdict carries a p-value; across a run, `family_control` adjusts
those (Holm by default) and a refutation that does not survive turns
INCONCLUSIVE with the reason stated.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.claims import stats
from harness.claims.claim import Claim
from harness.claims.metrics import metric_rows
from harness.claims.record import Record
from harness.core.jsonio import canonical

MAX_FAILED_FRACTION = 0.2  # more diverged/crashed units than this: ERROR
MAX_CENSORED_FRACTION = 0.5  # more runs at the iteration cap than this: ERROR
MIN_RATE_POINTS = 3  # valid grid points a rate fit needs
LEVEL = stats.SIGNIFICANCE  # significance for refutations and trend tests


@dataclass
class Verdict:
    claim_id: str
    source: str
    statement: str
    kind: str
    profile: str
    verdict: str
    prediction: str
    measurement: str
    over: str  # what the interval is over
    n_points: int
    n_replicates: int
    p_refute: float = 1.0
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    expected: tuple[str, str] | None = None
    paper_trend: str = ""

    def line(self) -> str:
        """One line: claim, verdict, prediction beside measurement."""
        return f"{self.claim_id}: {self.verdict} | predicted {self.prediction} | measured {self.measurement} | over {self.over}"


def _error(claim: Claim, why: str, n_points: int = 0) -> Verdict:
    return Verdict(claim.id, claim.source, claim.statement, claim.kind, claim.profile, "ERROR", _prediction_text(claim),
                   "n/a", why, n_points, claim.replicates, notes=[why], expected=claim.expected_verdict(), paper_trend=claim.paper_trend)


def metric_label(c: Claim) -> str:
    """What the analysed number is: the metric, or the smallest searched value that passes."""
    m = c.metric
    if "search" in m:
        return f"min {m['search']} with {m['name']} ({m.get('domain', 'id')}) <= {m['eps']:g}"
    if "eps" in m:
        return f"{m['name']} (error <= {m['eps']:g}, {m.get('domain', 'id')})"
    return m["name"]


def _prediction_text(c: Claim) -> str:
    p, m = c.prediction, c.metric
    if c.kind == "rate":
        off = " (+ offset c)" if p.get("offset") else ""
        return f"{metric_label(c)} ~ {m['x']}^b{off}, b = {p['exponent']:.4g} +- {p['margin']:.3g}"
    if c.kind == "bound":
        return f"{m['name']} ({m.get('domain', 'id')}) <= {p['eps']:.3g} at every point"
    if c.kind == "comparison":
        return f"{m['name']}[{canonical(m['a'])}] - {m['name']}[{canonical(m['b'])}] {p['relation']} {p['margin']:.3g}"
    if c.kind == "trend":
        return f"{m['name']} {p['direction']} in {m['x']}"
    return f"mean {m['name']} {p['relation']} {p['threshold']:.3g}"


def _fmt_point(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "(base)"


def collect_rows(claim: Claim, records: list[Record]) -> list[dict[str, Any]]:
    """The claim's metric rows for all non-failed records, with the replicate index,
    reduced over the search axis when the metric searches one."""
    rows = []
    for rec in records:
        if rec.failed:
            continue
        for r in metric_rows(claim, rec):
            r["replicate"] = rec.replicate
            rows.append(r)
    axis = claim.metric.get("search")
    if not axis:
        return rows
    eps = claim.metric["eps"]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        rest = {k: v for k, v in r["point"].items() if k != axis}
        groups[canonical([rest, r["replicate"]])].append(r)
    out = []
    for key, g in groups.items():
        rest, rep = json.loads(key)
        passing = sorted(r["point"][axis] for r in g if r["value"] <= eps)
        cap = max(r["point"][axis] for r in g)
        out.append({"point": rest, "replicate": rep, "value": float(passing[0] if passing else cap), "censored": not passing})
    return out


def judge(claim: Claim, records: list[Record], expected_units: int | None = None) -> Verdict:
    """Apply the claim's analysis to its stored records."""
    if expected_units is not None and len(records) < expected_units:
        return _error(claim, f"{expected_units - len(records)} of {expected_units} units have no record (crashed or not run)")
    if not records:
        return _error(claim, "no records")
    n_failed = sum(r.failed for r in records)
    if n_failed / len(records) > MAX_FAILED_FRACTION:
        return _error(claim, f"{n_failed} of {len(records)} runs diverged (non-finite or exploding loss)")
    rows = collect_rows(claim, records)
    if not rows:
        return _error(claim, "no measurements match the claim's metric and selection")
    n_cens = sum(r["censored"] for r in rows)
    if claim.kind != "rate" and n_cens / len(rows) > MAX_CENSORED_FRACTION:
        return _error(claim, f"{n_cens} of {len(rows)} measurements hit the cap")
    v = {"rate": _judge_rate, "bound": _judge_bound, "comparison": _judge_comparison, "trend": _judge_trend, "threshold": _judge_threshold}[claim.kind](claim, rows)
    if n_failed:
        v.notes.append(f"{n_failed} of {len(records)} runs diverged and were left out")
    v.expected = claim.expected_verdict()
    v.paper_trend = claim.paper_trend
    return v


def _by_point(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[canonical(r["point"])].append(r)
    return out


def _base(claim: Claim, verdict: str, measurement: str, over: str, n_points: int, n_rep: int, **kw: Any) -> Verdict:
    return Verdict(claim.id, claim.source, claim.statement, claim.kind, claim.profile, verdict, _prediction_text(claim),
                   measurement, over, n_points, n_rep, **kw)


def _judge_rate(claim: Claim, rows: list[dict[str, Any]]) -> Verdict:
    xaxis = claim.metric["x"]
    b0, margin = float(claim.prediction["exponent"]), float(claim.prediction["margin"])
    per_x: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        per_x[float(r["point"][xaxis])].append(r)
    table, xs, mly, gm = [], [], [], []
    n_rep = max(len(g) for g in per_x.values())
    total_cens = sum(r["censored"] for r in rows)
    for x in sorted(per_x):
        g = per_x[x]
        cens = sum(r["censored"] for r in g)
        vals = np.array([r["value"] for r in g], dtype=float)
        valid = cens == 0 and bool(np.all(vals > 0))
        table.append({"x": x, "mean_log_y": float(np.log(vals).mean()) if np.all(vals > 0) else math.nan,
                      "sd_log_y": float(np.log(vals).std(ddof=1)) if len(vals) > 1 and np.all(vals > 0) else math.nan,
                      "n": len(g), "censored": cens, "valid": valid})
        if valid:
            xs.append(x)
            mly.append(float(np.log(vals).mean()))
            gm.append(float(np.exp(np.log(vals).mean())))
    details: dict[str, Any] = {"points": table, "x_axis": xaxis}
    over = f"{len(xs)} valid grid points x {n_rep} seeds (OLS on per-point means of log [{metric_label(claim)}]; t, {max(len(xs) - 2, 0)} dof)"
    if total_cens / len(rows) > MAX_CENSORED_FRACTION:
        return _error(claim, f"{total_cens} of {len(rows)} runs hit the iteration/search cap", len(table))
    if len(xs) < MIN_RATE_POINTS:
        cens_pts = sum(1 for t in table if t["censored"])
        return _error(claim, f"only {len(xs)} valid grid points (need {MIN_RATE_POINTS}); {cens_pts} points have capped runs", len(table))
    xs_a = np.array(xs)
    fit = stats.fit_power_law_offset(xs_a, np.array(gm)) if claim.prediction.get("offset") and len(xs) >= 4 else stats.fit_power_law(xs_a, np.array(mly))
    verdict, p = stats.rate_decision(fit, b0, margin)
    details.update({"exponent": fit.exponent, "intercept": fit.intercept, "se": fit.se, "ci90": fit.ci90, "ci95": fit.ci95,
                    "local_slopes": fit.local_slopes, "offset": fit.offset, "dof": fit.dof})
    notes = [f"local slopes (curvature check): {', '.join(f'{s:.3g}' for s in fit.local_slopes)}"]
    if any(t["censored"] for t in table):
        notes.append(f"points with capped runs left out of the fit: {[t['x'] for t in table if t['censored']]}")
    if not (math.isfinite(fit.se) and fit.se > 0):
        notes.append("degenerate fit: the per-point means lie exactly on a line (zero residual), so the interval has no width and proves nothing; add grid points")
    elif verdict == "INCONCLUSIVE":
        width = fit.ci90[1] - fit.ci90[0]
        if width <= 2 * margin:
            notes.append(f"the 90% interval (width {width:.3g}) is narrower than the margin ({2 * margin:.3g}) but sits partly outside it: "
                         f"b is {fit.exponent - b0:+.3g} from the prediction; more grid points or seeds would decide between CONFIRMED and REFUTED")
        else:
            need = stats.points_needed(fit, margin, xs_a)
            more = (f"about {need} grid points at this scatter would narrow it to the margin" if need and need > len(xs)
                    else "more grid points alone would not narrow it enough at this scatter: add seeds or widen the swept range")
            notes.append(f"90% interval width {width:.3g} vs margin width {2 * margin:.3g}; {more}")
    meas = f"b = {fit.exponent:.3g}, 90% CI [{fit.ci90[0]:.3g}, {fit.ci90[1]:.3g}], 95% CI [{fit.ci95[0]:.3g}, {fit.ci95[1]:.3g}]"
    return _base(claim, verdict, meas, over, len(xs), n_rep, p_refute=p, notes=notes, details=details)


def _judge_bound(claim: Claim, rows: list[dict[str, Any]]) -> Verdict:
    eps = float(claim.prediction["eps"])
    groups = list(_by_point(rows).values())
    n_rep = max(len(g) for g in groups)
    d = stats.bound_decision([(sum(r["k"] for r in g), sum(r["n"] for r in g)) for g in groups], eps)
    table = [{"point": g[0]["point"], "errors": t.errors, "n": t.n, "rate": t.rate, "cp_lower95": t.lower, "cp_upper95": t.upper}
             for g, t in zip(groups, d.points)]
    worst = max(table, key=lambda t: t["cp_upper95"])
    meas = f"worst point {_fmt_point(worst['point'])}: {worst['errors']}/{worst['n']} errors = {worst['rate']:.4f}, one-sided 95% CP upper {worst['cp_upper95']:.4f}"
    over = f"{len(table)} grid points, test prompts pooled over {n_rep} seeds (Clopper-Pearson, one-sided 95%)"
    notes = [] if d.verdict != "INCONCLUSIVE" else ["the upper bound exceeds eps but no point is significantly above it: more test prompts or seeds would decide"]
    return _base(claim, d.verdict, meas, over, len(table), n_rep, p_refute=d.p_refute, notes=notes, details={"points": table, "eps": eps})


def _judge_comparison(claim: Claim, rows: list[dict[str, Any]]) -> Verdict:
    a_sel, b_sel = claim.metric["a"], claim.metric["b"]
    rel, margin = claim.prediction["relation"], float(claim.prediction["margin"])
    sides: dict[str, dict[str, float]] = {"a": {}, "b": {}}
    for r in rows:
        for side, sel in (("a", a_sel), ("b", b_sel)):
            if all(r["point"].get(k) == v for k, v in sel.items()):
                rest = {k: v for k, v in r["point"].items() if k not in sel}
                sides[side][canonical([rest, r["replicate"]])] = r["value"]
    keys = sorted(set(sides["a"]) & set(sides["b"]))
    n_points = len({json.dumps(json.loads(k)[0], sort_keys=True) for k in keys})
    if len(keys) < 2:
        return _error(claim, f"only {len(keys)} paired measurements (need 2)")
    d = np.array([sides["a"][k] - sides["b"][k] for k in keys])
    mi = stats.mean_interval(d, 0.95)
    if rel == "<=":
        ok, bad = mi.upper <= margin, mi.lower > margin
        p = stats.mean_p_value(d, margin, "greater")
    else:
        ok, bad = mi.lower >= margin, mi.upper < margin
        p = stats.mean_p_value(d, margin, "less")
    verdict = "CONFIRMED" if ok else ("REFUTED" if bad and p < LEVEL else "INCONCLUSIVE")
    meas = f"mean paired difference {mi.mean:.4g}, one-sided 95% bounds [{mi.lower:.4g}, {mi.upper:.4g}]"
    over = f"{len(keys)} pairs (same trained model and test prompts, paired by seed; t, {len(keys) - 1} dof)"
    notes = []
    if float(np.std(d)) == 0.0:
        notes.append(f"all {len(keys)} paired differences equal {d[0]:.4g}: the t bounds collapse onto it")
    a_mean = float(np.mean([sides['a'][k] for k in keys]))
    b_mean = float(np.mean([sides['b'][k] for k in keys]))
    return _base(claim, verdict, meas, over, n_points, len(keys) // max(n_points, 1), p_refute=p if verdict == "REFUTED" else 1.0,
                 notes=notes + [f"mean a = {a_mean:.4g}, mean b = {b_mean:.4g}"], details={"differences": d.tolist(), "a_mean": a_mean, "b_mean": b_mean})


def _judge_trend(claim: Claim, rows: list[dict[str, Any]]) -> Verdict:
    xaxis = claim.metric["x"]
    direction = claim.prediction["direction"]
    x = np.array([float(r["point"][xaxis]) for r in rows])
    y = np.array([r["value"] for r in rows], dtype=float)
    rho, p_inc, p_dec = stats.trend_test(x, y)
    p_for, p_against = (p_inc, p_dec) if direction == "increasing" else (p_dec, p_inc)
    verdict = "CONFIRMED" if p_for < LEVEL else ("REFUTED" if p_against < LEVEL else "INCONCLUSIVE")
    means = []
    for xv in sorted(set(x.tolist())):
        sel = y[x == xv]
        means.append({"x": xv, "mean": float(sel.mean()), "sd": float(sel.std(ddof=1)) if len(sel) > 1 else math.nan, "n": int(len(sel))})
    n_rep = max(m["n"] for m in means)
    meas = f"Spearman rho = {rho:.3g}, one-sided p = {p_for:.3g}; means " + ", ".join(f"{m['x']:g}: {m['mean']:.3g}" for m in means)
    over = f"{len(rows)} runs over {len(means)} values of {xaxis} ({n_rep} seeds each; one-sided Spearman test)"
    return _base(claim, verdict, meas, over, len(means), n_rep, p_refute=p_against if verdict == "REFUTED" else 1.0,
                 details={"points": means, "x_axis": xaxis, "rho": rho})


def _judge_threshold(claim: Claim, rows: list[dict[str, Any]]) -> Verdict:
    rel, thr = claim.prediction["relation"], float(claim.prediction["threshold"])
    vals = np.array([r["value"] for r in rows], dtype=float)
    if not np.all(np.isfinite(vals)):
        return _error(claim, "non-finite measurements")
    mi = stats.mean_interval(vals, 0.95)
    if rel == ">=":
        ok, bad, p = mi.lower >= thr, mi.upper < thr, stats.mean_p_value(vals, thr, "less")
    else:
        ok, bad, p = mi.upper <= thr, mi.lower > thr, stats.mean_p_value(vals, thr, "greater")
    verdict = "CONFIRMED" if ok else ("REFUTED" if bad and p < LEVEL else "INCONCLUSIVE")
    groups = _by_point(rows)
    meas = f"mean {mi.mean:.4g}, one-sided 95% bounds [{mi.lower:.4g}, {mi.upper:.4g}]"
    over = f"{len(vals)} measurements over {len(groups)} grid points (t, {len(vals) - 1} dof)"
    per = [{"point": g[0]["point"], "mean": float(np.mean([r['value'] for r in g])), "n": len(g)} for g in groups.values()]
    return _base(claim, verdict, meas, over, len(groups), max(p["n"] for p in per), p_refute=p if verdict == "REFUTED" else 1.0,
                 details={"points": per})


def family_control(verdicts: list[Verdict], method: str = "holm") -> list[Verdict]:
    """Adjust refutation p-values across the run (Holm or BH; the CLI and the pytest plugin
    both judge all their claims first); a REFUTED verdict whose adjusted p is not below LEVEL
    becomes INCONCLUSIVE (with the reason in its notes)."""
    if not verdicts:
        return verdicts
    ps = [v.p_refute for v in verdicts]
    if method == "holm":
        adj = stats.holm(ps)
    elif method == "bh":
        adj = stats.benjamini_hochberg(ps)
    else:
        raise ValueError(f"family control must be 'holm' or 'bh', got {method!r}")
    for v, a in zip(verdicts, adj):
        v.details["p_refute_adjusted"] = a
        if v.verdict == "REFUTED" and a >= LEVEL:
            v.verdict = "INCONCLUSIVE"
            v.notes.append(f"refutation p = {v.p_refute:.3g} does not survive {method} adjustment (adjusted {a:.3g})")
    return verdicts
