"""Cheap properties of the fuzzing layer: strategies, the assumption checker, crossing statistics,
records, the batched shrinker and the report writer. No model is trained here."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import Phase, assume, given, target
from hypothesis import strategies as st

from harness.claims import stats
from harness.cli import main
from harness.fuzz.assumptions import (
    REGIME_CHECKS,
    THEORY_CHECKS,
    TOL,
    check_assumptions,
    task_graph_shortcut,
)
from harness.fuzz.axis_summary import summarise_axis
from harness.fuzz.campaign import closer, minimize, pick_failures, shrink_candidates
from harness.fuzz.crossings import crossing_point, crossing_summary
from harness.fuzz.outcomes import DomainResult, Outcome
from harness.fuzz.profiles import ANCHOR, PROFILES, Axis, get_profile
from harness.fuzz.records import read_records, run_from_record, write_record
from harness.fuzz.render import answer_lines
from harness.fuzz.report import write_report
from harness.fuzz.strategies import (
    KNOBS,
    SEEDS,
    any_data,
    coherences,
    distance,
    fuzz_settings,
    moved_knobs,
    nominal_data,
    nominal_runs,
    violating_data,
)
from harness.fuzz.summary import summarise
from harness.fuzz.sweep import SweepPoint
from harness.report.claim_report import write_report as claims_report
from harness.world.config import DataConfig, TrainConfig
from harness.world.patterns import gram_matrix

PROFILE = get_profile()
TRAIN = PROFILE.train_config()
CHEAP = fuzz_settings("cheap")

# assumptions a single knob moved away from the anchor may violate (its own first)
ALLOWED = {
    "coherence_rel": {"orthogonal_idr"},
    "coherence_irr": {"orthogonal_idi"},
    "coherence_cross": {"orthogonal_cross"},
    "beta": {"beta_at_least_1"},
    "beta_jitter": {"equal_norms", "beta_at_least_1"},
    "K": {"K_at_most_half"},
    "K_ood": {"K_ood_at_most_half"},
    "noise": {"no_noise"},
    "S1": {"S1_at_least_1", "regime_S1"},
    "ood_coef_spread": {"regime_coef_sign"},
    "odi_outside": {"odi_in_span"},
    "coverage": {"uniform_coverage", "coverage_size", "regime_task_shortcut"},
    "alpha": {"regime_iterations", "context_length"},
    "alpha_test": {"regime_test_context", "regime_alpha_shift", "context_length"},
}


def _min_eig(cfg: DataConfig) -> float:
    G = gram_matrix(cfg, torch.ones(cfg.M1 + cfg.M2, dtype=torch.float64))
    return float(torch.linalg.eigvalsh(G).min())


# ----------------------------------------------------------------------
# strategies


@CHEAP
@given(any_data(), SEEDS)
def test_strategies_only_generate_valid_configs(cfg, seed):
    cfg.validate()
    eig = _min_eig(cfg)
    assert eig > 1e-10
    # push coherences toward the edge: still valid
    target(-eig, label="closeness to the positive-definite edge")
    rep = check_assumptions(cfg, seed=seed, train=TRAIN)  # builds the world: Cholesky must succeed
    assert set(rep.names()) == set(THEORY_CHECKS) | set(REGIME_CHECKS)


@CHEAP
@given(coherences(), SEEDS)
def test_drawn_coherences_are_measured_exactly(coh, seed):
    cfg = dataclasses.replace(ANCHOR, **coh).validate()
    rep = check_assumptions(cfg, seed=seed)
    assert rep["orthogonal_idr"].value == pytest.approx(abs(coh["coherence_rel"]), abs=1e-9)
    assert rep["orthogonal_idi"].value == pytest.approx(abs(coh["coherence_irr"]), abs=1e-9)
    assert rep["orthogonal_cross"].value == pytest.approx(abs(coh["coherence_cross"]), abs=1e-9)
    assert rep.max_coherence == pytest.approx(max(abs(v) for v in coh.values()), abs=1e-9)


@CHEAP
@given(nominal_data(), SEEDS)
def test_nominal_configs_violate_at_most_the_seed_dependent_task_graph_check(cfg, seed):
    rep = check_assumptions(cfg, seed=seed, train=TRAIN)
    assert {c.name for c in rep.violated()} <= {"regime_task_shortcut"}, [
        c.name for c in rep.violated()
    ]
    assert rep.violated(kind="theory") == []


@CHEAP
@given(nominal_runs(PROFILE))
def test_nominal_runs_violate_nothing(run):
    rep = check_assumptions(run.data, seed=run.seed, train=run.train)
    assert rep.violated() == [], [c.name for c in rep.violated()]
    assert rep.severity() == 0.0
    assert rep.holds("id") and rep.holds("ood")


def _shifts(S, M=6):
    return torch.tensor([(i, (i + s) % M) for s in S for i in range(M)])


@pytest.mark.parametrize(
    "shifts, expected",
    [
        ((2,), 0.0),
        ((3,), 3 / 9),
        ((1,), 6 / 9),
        ((1, 5), 6 / 9),
        ((1, 3), 1.0),
        ((1, 3, 5), 1.0),
        ((2, 4), 0.0),
        ((1, 3, 4, 5), 0.0),
    ],
)
def test_task_graph_shortcut_of_cyclic_shift_sets(shifts, expected):
    assert task_graph_shortcut(_shifts(shifts), 6) == pytest.approx(expected)


@CHEAP
@given(
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), min_size=1, max_size=30),
    st.permutations(range(8)),
)
def test_task_graph_shortcut_is_a_bipartition_property(pairs, perm):
    """0 exactly when some odd cycle exists; invariant under relabelling the patterns and under
    reversing tasks; adding a task inside one class of a complete bipartition never raises it."""
    t = torch.tensor(pairs)
    v = task_graph_shortcut(t, 8)
    assert 0.0 <= v <= 1.0
    relabel = torch.tensor(perm)[t]
    assert task_graph_shortcut(relabel, 8) == pytest.approx(v)
    assert task_graph_shortcut(t.flip(1), 8) == pytest.approx(v)
    edges = {(min(a, b), max(a, b)) for a, b in pairs if a != b}
    if edges:
        # brute force over all 2-colourings
        best = 0.0
        for mask in range(1, 2**8 - 1):
            if all(((mask >> a) & 1) != ((mask >> b) & 1) for a, b in edges):
                k = bin(mask).count("1")
                best = max(best, len(edges) / (k * (8 - k)))
        assert v == pytest.approx(best)


@CHEAP
@given(SEEDS)
def test_orthogonal_default_violates_no_theory_assumption(seed):
    rep = check_assumptions(DataConfig(), seed=seed, train=TrainConfig(steps=600))
    assert rep.violated(kind="theory") == []
    assert rep.max_coherence < 1e-9
    # the paper's default sits exactly on S1 = 1: only the calibrated OOD regime check objects
    assert [c.name for c in rep.violated()] == ["regime_S1"]
    assert rep["S1_at_least_1"].margin == pytest.approx(0.0, abs=1e-9)


@CHEAP
@given(st.sampled_from(sorted(KNOBS)), st.data())
def test_each_knob_violates_its_assumption_and_nothing_unrelated(knob, data):
    cfg = data.draw(violating_data(knobs=[knob], max_knobs=1, steps=PROFILE.steps))
    seed = data.draw(SEEDS)
    rep = check_assumptions(cfg, seed=seed, train=TRAIN)
    names = {c.name for c in rep.violated()}
    if KNOBS[knob].guaranteed:
        assert KNOBS[knob].assumption in names
    assert names <= ALLOWED[knob], (knob, names)
    assert [k.name for k in moved_knobs(cfg)] == [knob]
    target(rep.severity(), label="severity")


@CHEAP
@given(st.data())
def test_margins_equal_the_knobs_that_set_them(data):
    knob = data.draw(st.sampled_from(["noise", "K", "K_ood", "S1", "odi_outside", "beta"]))
    cfg = data.draw(violating_data(knobs=[knob], max_knobs=1))
    rep = check_assumptions(cfg, seed=data.draw(SEEDS))
    expected = {
        "noise": ("no_noise", cfg.noise / cfg.beta),
        "K": ("K_at_most_half", cfg.K - 0.5),
        "K_ood": ("K_ood_at_most_half", cfg.K_ood - 0.5),
        "S1": ("S1_at_least_1", 1.0 - cfg.S1),
        "odi_outside": ("odi_in_span", cfg.odi_outside),
        "beta": ("beta_at_least_1", 1.0 - cfg.beta),
    }[knob]
    assert rep[expected[0]].margin == pytest.approx(expected[1], abs=1e-9)


@CHEAP
@given(
    st.sampled_from(["coherence_rel", "coherence_irr", "all"]),
    st.floats(0.0, 0.95),
    st.floats(0.0, 0.95),
    SEEDS,
)
def test_raising_coherence_raises_the_margin_monotonically(kind, c1, c2, seed):
    lo, hi = sorted((c1, c2))
    fields = ("coherence_rel", "coherence_irr", "coherence_cross") if kind == "all" else (kind,)
    name = {
        "coherence_rel": "orthogonal_idr",
        "coherence_irr": "orthogonal_idi",
        "all": "orthogonal_idr",
    }[kind]
    reps = [
        check_assumptions(dataclasses.replace(ANCHOR, **{f: c for f in fields}), seed=seed)
        for c in (lo, hi)
    ]
    target(hi - lo, label="gap")
    assert reps[1][name].margin >= reps[0][name].margin - 1e-12
    assert reps[1].max_coherence >= reps[0].max_coherence - 1e-12
    assert reps[1].severity("id") >= reps[0].severity("id") - 1e-12
    assert reps[1][name].margin == pytest.approx(hi, abs=1e-9)


@CHEAP
@given(st.floats(0.0, 0.9), st.floats(0.0, 0.9), SEEDS)
def test_more_norm_jitter_never_shrinks_the_norm_margins(j1, j2, seed):
    lo, hi = sorted((j1, j2))
    a, b = (
        check_assumptions(dataclasses.replace(ANCHOR, beta_jitter=j), seed=seed) for j in (lo, hi)
    )
    # norms are beta (1 + j (2u - 1)) with the same u for a given seed: spread and min-norm deficit
    # grow with j
    assert b["equal_norms"].margin >= a["equal_norms"].margin - 1e-12
    assert b["beta_at_least_1"].margin >= a["beta_at_least_1"].margin - 1e-12


@CHEAP
@given(any_data(), SEEDS)
def test_violated_iff_positive_margin_and_reports_replay(cfg, seed):
    rep = check_assumptions(cfg, seed=seed, train=TRAIN)
    for c in rep.checks:
        assert c.violated == (c.margin > TOL)
        assert math.isfinite(c.margin) and c.scale > 0
        assert (c.severity > 0) == (c.margin > 0)
    again = check_assumptions(cfg, seed=seed, train=TRAIN)
    assert again.margins() == rep.margins()
    d = rep.to_dict()
    json.dumps(d)
    # every in-domain assumption is also an OOD one
    assert set(d["violated"]["id"]) <= set(d["violated"]["ood"])


def test_coverage_knob_is_measured_on_the_actual_training_tasks():
    rep = check_assumptions(
        dataclasses.replace(
            ANCHOR, coverage="missing_pattern", n_train_tasks=12, coverage_pattern=2
        ),
        seed=3,
    )
    counts = np.array(rep.extra["coverage_counts"])
    assert counts[2].tolist() == [0, 0]
    assert rep["uniform_coverage"].violated and not rep["coverage_size"].violated
    small = check_assumptions(
        dataclasses.replace(ANCHOR, coverage="one_label_side", n_train_tasks=3), seed=3
    )
    assert small["coverage_size"].margin == pytest.approx(0.5)


# ----------------------------------------------------------------------
# crossings


@CHEAP
@given(
    st.lists(st.floats(-5, 5), min_size=2, max_size=12, unique=True),
    st.floats(0.0, 1.0),
    st.floats(0.01, 10.0),
    st.booleans(),
)
def test_crossing_point_recovers_a_linear_crossing(xs, where, slope, descending):
    xs = sorted(xs, reverse=descending)
    assume(abs(xs[-1] - xs[0]) > 1e-3)
    x_star = xs[0] + where * (xs[-1] - xs[0])
    sign = -1.0 if descending else 1.0
    # rises along the grid order, eps at x_star
    err = [0.05 + slope * sign * (x - x_star) for x in xs]
    c, cens = crossing_point(xs, err, 0.05)
    if err[0] > 0.05:
        assert cens == "left" and c == xs[0]
    elif all(e <= 0.05 for e in err):
        assert cens == "right" and c == xs[-1]
    else:
        assert cens == "" and c == pytest.approx(x_star, abs=1e-6 * (1 + abs(x_star)))


def test_crossing_point_takes_the_first_crossing_and_censors():
    assert crossing_point([0, 1, 2, 3], [0.0, 0.1, 0.0, 0.2]) == (pytest.approx(0.5), "")
    assert crossing_point([0, 1], [0.2, 0.3]) == (0.0, "left")
    assert crossing_point([0, 1], [0.0, 0.05]) == (1.0, "right")  # <= eps never crosses
    with pytest.raises(ValueError):
        crossing_point([0, 1], [0.0])


def test_crossing_summary_t_interval_over_replicates():
    c = crossing_summary([1.0, 2.0, 3.0], ["", "", ""])
    half = 4.302652729911275 / math.sqrt(3)  # t_{0.975, 2} * sd / sqrt(n), sd = 1
    assert (c.mean, c.lower, c.upper) == (
        pytest.approx(2.0),
        pytest.approx(2.0 - half),
        pytest.approx(2.0 + half),
    )
    cens = crossing_summary([1.0, 2.0, 3.0], ["", "right", ""])
    assert math.isnan(cens.lower) and cens.n_right == 1 and "censored" in cens.text()
    assert "none" in crossing_summary([3.0, 3.0], ["right", "right"]).text()


# ----------------------------------------------------------------------
# records and shrinking


def _synthetic(run, err_id: float, err_ood: float, n: int = 400) -> Outcome:
    rep = check_assumptions(run.data, seed=run.seed, train=run.train)
    return Outcome(
        run, rep, DomainResult(round(err_id * n), n), DomainResult(round(err_ood * n), n)
    )


def test_records_are_written_atomically_and_replay_the_run(tmp_path):
    runs = [
        PROFILE.run(dataclasses.replace(ANCHOR, coherence_rel=c), seed)
        for c, seed in ((0.3, 1), (0.7, 2))
    ]
    outs = [_synthetic(r, 0.01, 0.3) for r in runs]
    paths = [
        write_record(o.record("unit", "quick", {"note": float("nan")}), tmp_path) for o in outs
    ]
    assert len(set(paths)) == 2 and all(p.exists() for p in paths)
    assert not list((tmp_path / "records").glob(".*"))  # no temporary files left behind
    recs = read_records(tmp_path, "unit")
    assert {run_from_record(r) for r in recs} == set(runs)
    r0 = next(r for r in recs if r.seed == 1)
    assert r0.result["ood"]["verdict"] == "REFUTED" and r0.result["id"]["verdict"] == "CONFIRMED"
    assert r0.assumptions["violated"]["id"] == ["orthogonal_idr"] and math.isnan(r0.meta["note"])
    assert r0.unexplained["any"] == []  # the OOD break is explained by the coherence
    # same example again: same file, replaced
    write_record(outs[0].record("unit", "quick"), tmp_path)
    assert len(read_records(tmp_path)) == 2


@pytest.mark.parametrize(
    "k,n",
    [
        (0, 500),
        (12, 500),
        (25, 500),
        (35, 500),
        (36, 500),
        (63, 1000),
        (64, 1000),
        (125, 2500),
        (300, 500),
    ],
)
def test_fuzz_verdicts_are_the_claims_bound_rule(k, n):
    """A fuzz outcome's verdict and bounds are those of stats.bound_decision (one rule for claims
    and fuzzing)."""
    d = stats.bound_decision([(k, n)], 0.05)
    r = DomainResult(k, n, 0.05)
    assert (r.verdict(), r.bounds) == (d.verdict, (d.lower, d.upper))
    assert r.to_dict()["verdict"] == d.verdict and r.verdict(failed=True) == "ERROR"


@CHEAP
@given(any_data())
def test_shrink_candidates_are_valid_and_strictly_closer(cfg):
    d0 = distance(cfg)
    for c in shrink_candidates(cfg):
        c.validate()
        assert distance(c) <= d0
        assert all(k in moved_knobs(cfg) for k in moved_knobs(c))
        changed = [
            f.name
            for f in dataclasses.fields(DataConfig)
            if getattr(c, f.name) != getattr(cfg, f.name)
        ]
        # exactly one knob moves
        [knob] = {k.name for k in KNOBS.values() if set(changed) & set(k.fields)}
        for f in changed:  # ... and strictly toward the anchor
            if KNOBS[knob].continuous:
                assert abs(getattr(c, f) - getattr(ANCHOR, f)) < abs(
                    getattr(cfg, f) - getattr(ANCHOR, f)
                )
            else:
                assert getattr(c, f) == getattr(ANCHOR, f)


@fuzz_settings("cheap")
@given(st.floats(0.05, 0.7), st.floats(0.0, 1.0), st.floats(0.0, 2.0), st.integers(1, 6))
def test_minimize_finds_a_local_minimum_of_a_synthetic_break(threshold, over, noise, rounds):
    """Oracle: the in-domain claim breaks iff coherence_rel > threshold (noise is irrelevant)."""
    c0 = threshold + 0.01 + over * (0.95 - threshold - 0.01)
    start = PROFILE.run(dataclasses.replace(ANCHOR, coherence_rel=c0, noise=noise), 7)
    calls = []

    def evaluate(runs):
        calls.append(len(runs))
        return [_synthetic(r, 0.5 if r.data.coherence_rel > threshold else 0.0, 0.0) for r in runs]

    first = evaluate([start])[0]
    assert first.broke("id")
    [(best, dom, orig)] = minimize([(first, "id")], evaluate, rounds=rounds)
    assert dom == "id" and orig is first and best.broke("id")
    assert best.run.data.coherence_rel > threshold
    assert distance(best.run.data) <= distance(start.data)
    # stopped early: a local minimum, no single-knob move toward the anchor still breaks
    if len(calls) - 1 < rounds:
        for c in shrink_candidates(best.run.data):
            assert not (c.coherence_rel > threshold and closer(c, best.run.data))
        assert best.run.data.noise == 0.0  # dropping the irrelevant knob always keeps the break
        # a quarter step closer would not break
        assert 0.75 * best.run.data.coherence_rel <= threshold


def test_pick_failures_keeps_the_closest_per_claim_and_knob_set():
    def mk(c, e):
        return _synthetic(PROFILE.run(dataclasses.replace(ANCHOR, coherence_rel=c), 0), e, 0.0)

    outs = [
        mk(0.9, 0.5),
        mk(0.8, 0.4),
        mk(0.3, 0.0),
        _synthetic(PROFILE.run(dataclasses.replace(ANCHOR, noise=2.0), 0), 0.0, 0.4),
    ]
    picked = pick_failures(outs, 5)
    assert [(o.run.data.coherence_rel, o.run.data.noise, d) for o, d in picked] == [
        (0.8, 0.0, "id"),
        (0.0, 2.0, "ood"),
    ]
    assert len(pick_failures(outs, 1)) == 1


# ----------------------------------------------------------------------
# report and settings


def test_report_from_synthetic_sweep(tmp_path):
    """Known per-replicate curves with crossings at 0.3, 0.4 and 0.5."""
    ax = Axis(
        "coherence_rel",
        ("coherence_rel",),
        (0.0, 0.2, 0.4, 0.6, 0.8),
        "orthogonal_idr",
        "cosine",
        "coherence",
    )
    profile = dataclasses.replace(PROFILES["quick"], axes=(ax,), replicates=3)
    curves = [[0, 0, 0.1, 0.3, 0.5], [0, 0, 0.05, 0.3, 0.5], [0, 0, 0, 0.1, 0.5]]
    points = [
        SweepPoint(ax.name, v, r, _synthetic(profile.run(ax.data(v), r), curves[r][i], 0.0, 1000))
        for i, v in enumerate(ax.values)
        for r in range(3)
    ]
    s = summarise_axis(ax, points)
    assert s.crossing["id"].values == pytest.approx([0.3, 0.4, 0.5])
    half = 4.302652729911275 * 0.1 / math.sqrt(3)
    assert (s.crossing["id"].lower, s.crossing["id"].upper) == (
        pytest.approx(0.4 - half),
        pytest.approx(0.4 + half),
    )
    # severity of orthogonal_idr = the cosine
    assert s.crossing_severity["id"].mean == pytest.approx(0.4)
    assert (
        s.crossing["ood"].n_right == 3
        and s.breaks_from["ood"] is None
        and s.holds_up_to["ood"] == 0.8
    )
    assert s.holds_up_to["id"] == 0.2  # 0.4 pools 150 / 3000 errors: INCONCLUSIVE
    assert s.pooled["id"][2].verdict == "INCONCLUSIVE" and s.breaks_from["id"] == 0.6
    path = write_report(tmp_path, profile, points, campaign=[], minimal=[])
    text = path.read_text()
    assert (
        "0.4 [0.152, 0.648]" in text
        and "orthogonal_idr" in text
        and "## Minimal breaking configurations" in text
    )
    assert (tmp_path / "coherence.png").stat().st_size > 1000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["axes"]["coherence_rel"]["id"]["crossing"]["mean"] == pytest.approx(0.4)
    assert any("in-domain vs max |cosine| among the IDR patterns" in a for a in summary["answers"])
    # summary.json and report.md come from the same RobustnessSummary: its answers, rendered once,
    # appear in both
    data = summarise(profile, points)
    assert [(h.axis.axis.name, h.domain) for h in data.headlines] == [
        ("coherence_rel", "id"),
        ("coherence_rel", "ood"),
    ]
    [claim_id, claim_ood] = data.claims
    assert (
        claim_id.first_at_budget.summary is data.axes[0]
        and claim_id.first_at_budget.at == 0.6
        and claim_ood.first_at_budget is None
    )
    assert answer_lines(data) == summary["answers"] and all(a in text for a in summary["answers"])
    assert (
        summary["axes"]["coherence_rel"]["id"]["pooled"][2]
        == data.axes[0].pooled["id"][2].as_list()
    )
    # the answers join the claim report, linked to the fuzzing report
    claim_report = claims_report(
        tmp_path / "run", [], {"profile": "quick"}, robustness=tmp_path
    ).read_text()
    assert (
        "## Robustness: where the assumptions break" in claim_report
        and "(../report.md)" in claim_report
    )
    assert summary["answers"][0] in claim_report
    assert (
        "## Robustness"
        not in claims_report(
            tmp_path / "run2", [], {"profile": "quick"}, robustness=None
        ).read_text()
    )


def test_settings_profiles():
    quick, nightly = fuzz_settings("train", "quick"), fuzz_settings("train", "nightly")
    assert Phase.shrink not in quick.phases and Phase.shrink not in nightly.phases
    assert quick.deadline is None and nightly.max_examples > quick.max_examples
    assert type(quick.database).__name__ == "DirectoryBasedExampleDatabase"
    assert (
        fuzz_settings("cheap", "nightly").max_examples
        > fuzz_settings("cheap", "quick").max_examples
    )
    assert Phase.shrink in fuzz_settings("cheap").phases
    with pytest.raises(ValueError):
        fuzz_settings("bogus")
    with pytest.raises(ValueError):
        get_profile("weekly")


def test_cli_rejects_unknown_axes(capsys):
    assert main(["fuzz", "--axes", "no_such_axis", "--no-campaign"]) == 2
    assert "unknown axes" in capsys.readouterr().err
