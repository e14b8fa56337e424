"""Expensive fuzz properties: each Hypothesis example trains a batch of configurations as one
ensemble.

Settings come from `harness.fuzz.strategies.fuzz_settings("train")` (ICLCHECK_FUZZ_PROFILE: quick
for CI, nightly for more examples): no deadline, no shrinking (every shrink step would retrain),
failing examples kept in results/fuzz/db/. Every trained configuration is recorded under
results/fuzz/records/ whatever its outcome."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, target
from hypothesis import strategies as st

from harness.claims.stats import clopper_pearson
from harness.fuzz.campaign import measure_and_record
from harness.fuzz.outcomes import DomainResult
from harness.fuzz.profiles import ANCHOR, get_profile
from harness.fuzz.records import read_records, run_from_record
from harness.fuzz.strategies import (
    SEEDS,
    batches,
    fuzz_settings,
    nominal_data,
    nominal_runs,
    violating_data,
)

pytestmark = pytest.mark.slow

PROFILE = get_profile()
TRAIN = fuzz_settings("train")


def _explain(outs, dom):
    return "; ".join(
        f"seed={o.run.seed} {dom} err={o.result(dom).rate:.3f} ({o.verdict(dom)}) "
        f"data={o.run.non_default_dict().get('data')}"
        for o in outs
    )


def _assert_claim_holds(runs, dom: str, source: str) -> None:
    """Under the domain's assumptions: no member clearly fails, and the batch's pooled error is
    CONFIRMED <= eps."""
    outs = measure_and_record(runs, PROFILE, source)
    assert all(o.report.holds(dom) for o in outs)
    target(max(o.result(dom).rate for o in outs), label=f"worst {dom} error under the assumptions")
    bad = [o for o in outs if o.broke(dom)]
    assert not bad, _explain(bad, dom)
    k, n = sum(o.result(dom).errors for o in outs), sum(o.result(dom).n for o in outs)
    assert clopper_pearson(k, n)[1] <= PROFILE.eps, f"pooled {k}/{n}: " + _explain(outs, dom)


@TRAIN
@given(batches(size=PROFILE.train_batch, runs=nominal_runs(PROFILE)))
def test_in_domain_claim_holds_when_every_assumption_holds(runs):
    """Theorem 3.3 under its assumptions: no member clearly fails on unseen tasks, and the batch's
    pooled error is CONFIRMED <= eps (one-sided 95% Clopper-Pearson)."""
    _assert_claim_holds(runs, "id", "test-nominal-id")


@TRAIN
@given(batches(size=PROFILE.train_batch, runs=nominal_runs(PROFILE)))
def test_ood_claim_holds_in_the_calibrated_regime(runs):
    """Theorem 3.4 with S1 in [2, 3] (the regime where OOD holds at this budget; S1 in [1, 2) is not
    enough here, see the sweep), ODI in span(IDI), non-negative ODR coefficients."""
    _assert_claim_holds(runs, "ood", "test-nominal-ood")


@TRAIN
@given(
    batches(
        violating_data(max_knobs=2, base=nominal_data(steps=PROFILE.steps), steps=PROFILE.steps),
        PROFILE.train_batch,
    )
)
def test_every_clear_break_violates_an_assumption(runs):
    """Soundness of the checker: whenever a claim clearly fails (CP lower bound > eps, or
    divergence), the configuration violates at least one assumption of that claim (theory or
    calibrated regime). A failure here is a configuration inside every stated assumption where the
    claim still breaks: a counterexample."""
    outs = measure_and_record(runs, PROFILE, "test-violating")
    target(float(sum(len(o.broken_domains()) for o in outs)), label="clear breaks in the batch")
    unexplained = [(o, d) for o in outs for d in o.unexplained()]
    assert not unexplained, "; ".join(_explain([o], d) for o, d in unexplained)


@TRAIN
@given(
    st.lists(
        st.tuples(st.floats(0.85, 0.95), SEEDS),
        min_size=PROFILE.train_batch,
        max_size=PROFILE.train_batch,
    )
)
def test_strong_idr_coherence_breaks_the_in_domain_claim(draws):
    """The fuzzer sees breaks: with IDR cosines >= 0.85 the unseen-task error is clearly above eps
    (the sweep puts the crossing near 0.7)."""
    runs = [PROFILE.run(dataclasses.replace(ANCHOR, coherence_rel=c), s) for c, s in draws]
    outs = measure_and_record(runs, PROFILE, "test-strong-coherence")
    assert all(o.report["orthogonal_idr"].violated for o in outs)
    held = [o for o in outs if not o.broke("id")]
    assert not held, _explain(held, "id")


def test_recorded_examples_replay_bit_for_bit(tmp_path):
    """A record is enough to retrain its example: same errors from the stored RunConfig and seed."""
    # two evaluation chunks (outcomes.EVAL_CHUNK = 500)
    base = dataclasses.replace(PROFILE, steps=60, n_test=700)
    runs = [
        base.run(dataclasses.replace(ANCHOR, coherence_rel=0.3, noise=0.5), 11),
        base.run(dataclasses.replace(ANCHOR, S1=0.7, K=1.5), 12),
    ]
    first = measure_and_record(runs, base, "test-replay", tmp_path)
    recs = read_records(tmp_path, "test-replay")
    assert len(recs) == 2
    replay = measure_and_record([run_from_record(r) for r in recs], base, "test-replay", None)
    by_run = {o.run: o for o in first}
    for o in replay:
        assert (o.id.errors, o.ood.errors) == (by_run[o.run].id.errors, by_run[o.run].ood.errors)
    assert {r.result["id"]["errors"] for r in recs} == {o.id.errors for o in first}
    assert isinstance(first[0].id, DomainResult)
