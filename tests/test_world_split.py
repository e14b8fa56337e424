"""Every OOD claim says when its seeds drew different worlds, with each world's mean."""

from __future__ import annotations

import json

from harness.claims.claim import point_run
from harness.claims.grid import unit_seed
from harness.claims.metrics import Row
from harness.claims.schema import load_claim
from harness.claims.verdict import Verdict
from harness.claims.world_split import factor_of, world_split
from harness.world.mixtures import MIXTURE_FACTORS


def test_ood_seeds_of_two_worlds_are_reported_with_each_mean():
    c = load_claim("claims/ood-s1.toml", "nightly")
    level = MIXTURE_FACTORS.get("train_tasks_in_ood_group").level
    point = {k: v[0] for k, v in c.grid.items()}
    rows, inside = [], 0
    for r in range(c.replicates):
        seed = unit_seed(c, point, r)
        aligned = level(point_run(c, point, seed).data, seed) == "trains inside ODR groups"
        inside += aligned
        rows.append(Row(point, 0.2 if aligned else 0.0, replicate=r))
    split = world_split(c, rows)
    assert split is not None and 0 < inside < c.replicates
    means = {w.level: w.mean for w in split.levels}
    assert means == {"trains inside ODR groups": 0.2, "no task inside an ODR group": 0.0}
    assert sum(w.seeds for w in split.levels) == c.replicates
    assert "a mean over all seeds mixes them" in split.note()


def test_in_domain_claims_are_not_checked_and_the_split_survives_json():
    c = load_claim("claims/indomain-unseen.toml", "quick")
    assert factor_of(c) == ""
    assert world_split(c, [Row({}, 0.1, replicate=r) for r in range(3)]) is None
    ood = load_claim("claims/ood-s1.toml", "nightly")
    point = {k: v[0] for k, v in ood.grid.items()}
    split = world_split(ood, [Row(point, 0.1, replicate=r) for r in range(ood.replicates)])
    v = Verdict("x", "", "", "trend", "quick", "CONFIRMED", "p", "m", "o", 1, 1, world_split=split)
    back = Verdict.from_json(json.loads(json.dumps(v.to_json())))
    assert back.world_split == split
