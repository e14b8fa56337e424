"""Expand a claim into units of work: one unit = one train-grid point x one replicate.

A unit trains one model and measures it at every eval-grid point (eval axes
change only what the trained model is tested on, so eval points are paired by
construction). Its seed derives from (claim id, train point, replicate), where the train
point leaves out the claim's `pair_over` axes (so a comparison across them is
paired by seed). Its key covers everything that changes its result: the run
config and seed, the eval plan, the claim id (the seeds derive from it), the
device kind, the record schema version and the fingerprint of the code that
trains and measures; a rerun finds finished units in the store, and a record
from other code or another device has another key, so it is retrained (or,
with --reuse-stale, found by its identity: the key without the fingerprint).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import torch

from harness.claims.claim import Claim, point_config, split_axis
from harness.claims.record import SCHEMA_VERSION
from harness.core.fingerprint import code_fingerprint
from harness.core.jsonio import canonical, content_hash
from harness.world.config import RunConfig
from harness.world.seeding import derive_seed

ENGINE_VERSION = 2  # bump when a change alters what a stored record means, a changed default included


def device_kind(device: str | torch.device) -> str:
    """'cpu' or 'cuda' (the index of a device does not change a result)."""
    return torch.device(device).type


def cartesian(grid: dict[str, list]) -> list[dict[str, Any]]:
    """All combinations of the axes' values, in file order ([{}] for no axes);
    compound axes contribute all their parameters at once."""
    axes = list(grid)
    points = []
    for combo in itertools.product(*(grid[a] for a in axes)):
        point: dict[str, Any] = {}
        for a, v in zip(axes, combo):
            point.update(split_axis(a, v))
        points.append(point)
    return points


@dataclass
class Unit:
    claim_id: str
    train_point: dict[str, Any]
    replicate: int
    run: RunConfig  # seed included
    eval_points: list[dict[str, Any]]
    eval: dict[str, Any]
    device_kind: str = "cpu"
    fingerprint: str = field(default_factory=code_fingerprint)

    @property
    def identity(self) -> str:
        """What the unit is, on which device kind, for which record schema: the key without the code fingerprint."""
        return content_hash({
            "engine": ENGINE_VERSION, "schema": SCHEMA_VERSION, "claim": self.claim_id, "run": self.run.non_default_dict(),
            "eval_points": self.eval_points, "eval": self.eval, "device": self.device_kind,
        }, 24)

    @property
    def key(self) -> str:
        """The store key: identity and code fingerprint."""
        return f"{self.identity}-{self.fingerprint}"

    def group_key(self) -> str:
        """Units with equal group keys can be trained as one ensemble."""
        return canonical([list(self.run.shape_key()), self.eval_points, self.eval])


def expand(claim: Claim, device: str | torch.device = "cpu") -> list[Unit]:
    """The claim's units, keyed for `device` and the code of this process."""
    train_grid = {a: claim.grid[a] for a in claim.train_axes}
    eval_grid = {a: claim.grid[a] for a in claim.eval_axes}
    eval_points = cartesian(eval_grid)
    units = []
    for tp in cartesian(train_grid):
        for r in range(claim.replicates):
            seed_point = {k: v for k, v in tp.items() if k not in claim.pair_over}
            seed = derive_seed(claim.id, canonical(seed_point), r)
            units.append(Unit(claim.id, tp, r, point_config(claim, tp, seed), eval_points, dict(claim.eval), device_kind(device)))
    return units
