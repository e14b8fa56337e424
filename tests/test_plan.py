"""Planning a run at once: seeds from the config (not the claim id), one model per config and
replicate shared across claims, eval points merged, ensembles packed across claims and scheduled
longest first."""

from __future__ import annotations

from pathlib import Path

from test_run_resume import TINY

from harness.claims.grid import expand
from harness.claims.schema import load_claim
from harness.run.execution import NAMESPACE, make_executor
from harness.run.jobs import expected_cost, plan_jobs
from harness.run.model_store import ModelStore
from harness.run.paths import store_root
from harness.run.plan import plan_run
from harness.run.runner import run_claims
from harness.run.store import Store

GRID = '"data.alpha" = [0.4, 0.8]\n"data.S1" = [0.5, 1.0]'


def claim(
    tmp_path: Path, name: str, grid: str = GRID, extra: str = "", steps: int = 20, reps: int = 1
):
    from conftest import write_claim

    text = TINY.format(id=name, steps=steps, reps=reps).replace(GRID, grid)
    return load_claim(write_claim(tmp_path / "claims", name, extra + text), "quick")


def test_seeds_and_keys_do_not_depend_on_the_claim_id(tmp_path):
    a, b = expand(claim(tmp_path, "one")), expand(claim(tmp_path, "other"))
    assert [u.run.seed for u in a] == [u.run.seed for u in b]
    assert [u.key for u in a] == [u.key for u in b]
    # eval axes do not enter
    assert len({u.run.seed for u in a if u.train_point["data.alpha"] == 0.8}) == 1


def test_pair_over_points_take_the_seed_of_the_base_value(tmp_path):
    paired = expand(claim(tmp_path, "paired", extra='pair_over = ["data.alpha"]\n'))
    plain = expand(claim(tmp_path, "plain", grid='"data.S1" = [0.5, 1.0]'))  # base alpha = 0.8
    assert {u.run.seed for u in paired} == {plain[0].run.seed}
    # the very same model
    assert next(u for u in paired if u.train_point["data.alpha"] == 0.8).key == plain[0].key


def test_two_claims_with_an_identical_unit_share_one_record(tmp_path):
    a = claim(tmp_path, "wide")  # alpha 0.4 and 0.8, S1 0.5 and 1.0
    b = claim(tmp_path, "narrow", grid='"data.alpha" = [0.8]\n"data.S1" = [1.0, 2.0]')
    plan = plan_run([a, b])
    assert plan.requested == 3 and len(plan.units) == 2
    shared = next(u for u in plan.units if u.run.data.alpha == 0.8)
    # the union of both claims' eval points
    assert [p["data.S1"] for p in shared.eval_points] == [0.5, 1.0, 2.0]
    assert plan.sharing()["narrow"].text() == "shares 1 of its 1 models with: wide"

    runs = run_claims([a, b], tmp_path / "results", make_executor("local"), progress=False)
    assert sum(r.counts["done"] for r in runs) == 2  # trained once
    assert len(list((store_root(tmp_path / "results") / NAMESPACE).glob("*.json"))) == 2
    wide, narrow = runs
    assert (
        all("no record" not in n for r in runs for n in r.verdict.notes) and narrow.verdict.verdict
    )
    (rec,) = narrow.records
    assert rec.claim == "narrow" and rec.train_point == {"data.alpha": 0.8}
    assert [m.point["data.S1"] for m in rec.measurements] == [1.0, 2.0]
    same = next(r for r in wide.records if r.train_point["data.alpha"] == 0.8)
    # S1 = 1.0: one measurement, both claims
    assert same.key == rec.key and same.measurements[1] == rec.measurements[0]
    assert narrow.verdict.details["shared_models"] == {"models": 1, "shared": 1, "with": ["wide"]}

    from harness.report.claim_report import run_totals, write_report

    meta = {"profile": "quick", "family": "holm", **run_totals(runs)}
    assert (
        meta["units_requested"] == 3 and meta["models_planned"] == 2 and meta["models_trained"] == 2
    )
    text = write_report(tmp_path / "out", [r.verdict for r in runs], meta).read_text()
    assert (
        "- models: shares 1 of its 1 models with: wide" in text
        and "valid when claims share trained models" in text
    )

    again = run_claims([b], tmp_path / "results", make_executor("local"), progress=False)
    # its model is reused, not retrained
    assert again[0].counts["done"] == 0 and again[0].counts["skipped"] == 1


def test_groups_pack_across_claims_and_run_longest_first(tmp_path):
    a = claim(tmp_path, "short", grid='"data.S1" = [1.0]', reps=3)
    b = claim(tmp_path, "long", grid='"data.S1" = [1.5]', steps=40, reps=2)
    c = claim(tmp_path, "short-too", grid='"data.S1" = [2.0]', reps=2)
    plan = plan_run([a, b, c])
    groups = plan_jobs(plan.units, ModelStore(Store(tmp_path / "empty")), max_ensemble=64)
    # the 3 short units (2 shared by both short claims) in one ensemble
    assert [len(g.members) for g in groups] == [2, 3]
    assert expected_cost(groups[0]) > expected_cost(groups[1])
