"""What a seed's world drew (harness.world.mixtures.world_structure), stored on every record."""

from __future__ import annotations

import dataclasses
import json

from conftest import make_record

from harness.claims.record import Record
from harness.world.config import DataConfig
from harness.world.mixtures import MIXTURE_FACTORS, world_structure

FACTOR = "train_tasks_in_ood_group"


def test_the_shifts_that_pair_an_odr_groups_patterns_mark_every_group_trained():
    cfg = DataConfig()  # M1 = 6, one cyclic shift, ODR groups {0,1} {2,3} {4,5}
    seen = {}
    for seed in range(40):
        w = world_structure(cfg, seed)
        assert len(w.shifts) == 1 and len(w.train_tasks) == cfg.M1
        assert all((b - a) % cfg.M1 == w.shifts[0] for a, b in w.train_tasks)
        seen[w.shifts[0]] = (w.ood_groups_trained, w.level(FACTOR))
        assert w.level(FACTOR) == MIXTURE_FACTORS.get(FACTOR).level(cfg, seed)
    inside = (True, True, True), "trains inside ODR groups"
    outside = (False, False, False), "no task inside an ODR group"
    assert seen == {1: inside, 5: inside, 2: outside, 3: outside, 4: outside}


def test_spread_all_mixes_every_pattern_so_any_task_trains_every_group():
    w = world_structure(dataclasses.replace(DataConfig(), ood_spread="all"), 3)
    assert w.ood_groups_trained == (True, True, True)


def test_a_record_keeps_its_world_through_json():
    w = world_structure(DataConfig(), 2)
    rec = dataclasses.replace(make_record(), world=w)
    back = Record.from_json(json.loads(json.dumps(rec.to_json())))
    assert back.world == w and back.world.level(FACTOR) == "no task inside an ODR group"
    assert Record.from_json(json.loads(json.dumps(make_record().to_json()))).world is None
