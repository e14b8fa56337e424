"""The `[metric] worlds` reading: OOD claims judged in each world of the mixture factor apart
(`each`), or over every seed at once (`pooled`, the multiverse alternative worlds-pooled)."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from harness.claims.claim import Claim, point_run
from harness.claims.grid import unit_seed
from harness.claims.kinds import KINDS
from harness.claims.kinds.base import error_verdict
from harness.claims.metrics import Row
from harness.claims.multiverse import load_alternatives
from harness.claims.multiverse_derive import derive
from harness.claims.schema import ClaimError, load_claim
from harness.claims.world_split import judge_worlds
from harness.world.mixtures import MIXTURE_FACTORS

INSIDE = "trains inside ODR groups"


def _rows(c: Claim, inside: float, outside: float, noise: float = 0.002) -> list[Row]:
    """One row per grid point and seed: the metric `inside` in the seeds whose training tasks
    pair the ODR groups' patterns, `outside` in the others (a little noise, so no interval is
    of zero width)."""
    level = MIXTURE_FACTORS.get("train_tasks_in_ood_group").level
    rnd = random.Random(7)
    rows = []
    for x in c.grid["data.S1"]:
        point = {"data.S1": x}
        for r in range(c.replicates):
            seed = unit_seed(c, point, r)
            base = inside if level(point_run(c, point, seed).data, seed) == INSIDE else outside
            value = max(0.0, base + rnd.uniform(-noise, noise))
            rows.append(Row(point, value, replicate=r, n=2000, sd=max(noise, value)))
    return rows


def _judge(c: Claim, rows: list[Row]):
    return judge_worlds(c, rows, lambda rs: KINDS.get(c.kind).judge(c, rs))


def _pooled(c: Claim) -> Claim:
    return dataclasses.replace(c, metric={**c.metric, "worlds": "pooled"})


@pytest.fixture(scope="module")
def ood_s1() -> Claim:
    c = load_claim("claims/ood-s1.toml", "nightly")
    assert c.metric["worlds"] == "each"
    return c


def test_a_world_far_above_the_bound_refutes_the_claim_with_bonferroni(ood_s1):
    rows = _rows(ood_s1, inside=0.4, outside=0.0)
    v = _judge(ood_s1, rows)
    assert v.verdict == "REFUTED"
    assert v.measurement.startswith(f"[world {INSIDE!r}]")
    inside_only = [r for r, w in zip(rows, _worlds(ood_s1, rows)) if w == INSIDE]
    alone = KINDS.get("bound").judge(ood_s1, inside_only)
    assert v.p_refute == pytest.approx(min(1.0, 2 * alone.p_refute))
    verdicts = {w.level: w.verdict for w in v.world_split.levels}
    assert verdicts == {INSIDE: "REFUTED", "no task inside an ODR group": "CONFIRMED"}
    assert v.world_split.judged == "each" and "worlds judged apart" in v.notes[-1]


def _worlds(c: Claim, rows: list[Row]) -> list[str]:
    level = MIXTURE_FACTORS.get("train_tasks_in_ood_group").level
    out = []
    for r in rows:
        seed = unit_seed(c, r.point, r.replicate)
        out.append(level(point_run(c, r.point, seed).data, seed))
    return out


def test_worlds_that_disagree_are_not_confirmed_though_the_pooled_mean_is(ood_s1):
    # inside: at the bound (undecidable); outside: far below it. The pooled mean is low enough.
    rows = _rows(ood_s1, inside=0.05, outside=0.0, noise=0.02)
    each = _judge(ood_s1, rows)
    pooled = _judge(_pooled(ood_s1), rows)
    assert each.verdict == "INCONCLUSIVE"
    assert pooled.verdict == "CONFIRMED"
    assert pooled.world_split.judged == "pooled"
    assert "a mean over all seeds mixes them" in pooled.notes[-1]


def test_every_world_below_the_bound_confirms(ood_s1):
    v = _judge(ood_s1, _rows(ood_s1, inside=0.01, outside=0.0))
    assert v.verdict == "CONFIRMED"
    assert {w.verdict for w in v.world_split.levels} == {"CONFIRMED"}


def test_a_world_its_rule_cannot_judge_leaves_the_claim_undecided(ood_s1):
    # a rule that cannot judge a world of one seed (ERROR) leaves the claim INCONCLUSIVE
    rows = _rows(ood_s1, inside=0.0, outside=0.0)
    worlds = _worlds(ood_s1, rows)
    first = next(r.replicate for r, w in zip(rows, worlds) if w == INSIDE)
    kept = [r for r, w in zip(rows, worlds) if w != INSIDE or r.replicate == first]

    def judge(rs: list[Row]):
        if len({r.replicate for r in rs}) < 2:
            return error_verdict(ood_s1, "one seed", 1)
        return KINDS.get("bound").judge(ood_s1, rs)

    v = judge_worlds(ood_s1, kept, judge)
    assert v.verdict == "INCONCLUSIVE"
    verdicts = {w.level: w.verdict for w in v.world_split.levels}
    assert verdicts == {INSIDE: "ERROR", "no task inside an ODR group": "CONFIRMED"}


def test_a_bad_worlds_value_is_one_error_naming_the_file_and_key(tmp_path: Path):
    text = Path("claims/ood-s1.toml").read_text().replace('worlds = "each"', 'worlds = "both"')
    (tmp_path / "ood-s1.toml").write_text(text)
    (tmp_path / "_base.toml").write_text(Path("claims/_base.toml").read_text())
    with pytest.raises(ClaimError, match=r"metric\.worlds") as err:
        load_claim(tmp_path / "ood-s1.toml", "quick")
    assert "ood-s1.toml" in str(err.value) and "pooled, each" in str(err.value)
    assert "\n" not in str(err.value)


def test_the_pooled_alternative_derives_for_ood_claims_only(ood_s1):
    alt = next(a for a in load_alternatives("claims/_multiverse.toml") if a.worlds)
    assert alt.name == "worlds-pooled"
    d = derive(ood_s1, alt)
    assert d.claim is not None and d.claim.metric["worlds"] == "pooled"
    assert d.claim.base_run == ood_s1.base_run and d.claim.grid == ood_s1.grid
    assert derive(load_claim("claims/indomain-unseen.toml", "quick"), alt).claim is None
    fig = derive(load_claim("claims/fig-prune-ood.toml", "quick"), alt)
    assert fig.claim is None and fig.skipped


def test_a_world_refuting_at_p_below_alpha_but_not_after_bonferroni_is_undecided(ood_s1):
    rows = _rows(ood_s1, inside=0.0, outside=0.0)
    worlds = dict(zip(map(id, rows), _worlds(ood_s1, rows)))

    def judge(rs: list[Row]):
        v = KINDS.get("bound").judge(ood_s1, rs)
        if all(worlds[id(r)] == INSIDE for r in rs):
            return dataclasses.replace(v, verdict="REFUTED", p_refute=0.04)
        return v

    v = judge_worlds(ood_s1, rows, judge)
    assert v.verdict == "INCONCLUSIVE"
    assert v.p_refute == pytest.approx(0.08)
    assert "not after Bonferroni over 2 worlds" in " ".join(v.notes)
