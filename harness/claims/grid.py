"""Expand a claim into units of work: one unit = one train-grid point x one replicate.

A unit trains one model and measures it at every eval-grid point (eval axes
change only what the trained model is tested on, so eval points are paired by
construction). Its seed derives from what it trains, never from the claim:
(the training part of the run config with the claim's `pair_over` axes reset
to the claim's base values, seed left out; replicate). So two claims that train the same config
get the same seed, hence the same model (harness.run.plan trains it once), and
a comparison across `pair_over` axes is still paired by seed: every point of
it has the seed of its base-value point. Its key covers everything that
changes its result: the run config and seed, the eval plan, the device kind,
the record schema version and the fingerprint of the code that trains and
measures (not the claim id); a rerun finds finished units in the store, and a
record from other code or another device has another key, so it is retrained
(or, with --reuse-stale, found by its identity: the key without the fingerprint).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import torch

from harness.claims.claim import Claim, point_config, point_run, split_axis
from harness.claims.record import SCHEMA_VERSION
from harness.core.fingerprint import code_fingerprint, train_fingerprint
from harness.core.jsonio import canonical, content_hash
from harness.world.config import RunConfig
from harness.world.seeding import derive_seed
from harness.world.test_fields import curve_reading, training_part

# 3: seeds from the config, not the claim id; claim id out of the key; 4: seeds and stored models
# from the training part of the config only (test settings and OOD readings left out); bump when a
# change alters what a stored record means, a changed default included
ENGINE_VERSION = 4


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
    """One model to train and measure. `claim_id`, `train_point` and `replicate` say which claim
    asked for it and where in its grid; they are not part of its identity (a planned unit serving
    several claims names the first)."""

    claim_id: str
    train_point: dict[str, Any]
    replicate: int
    run: RunConfig  # seed included
    eval_points: list[dict[str, Any]]
    eval: dict[str, Any]
    device_kind: str = "cpu"
    fingerprint: str = field(default_factory=code_fingerprint)
    # whether a claim it serves reads the checkpoint curves (harness.claims.metrics: Metric.curve)
    reads_curve: bool = False
    train_fp: str = field(default_factory=train_fingerprint)

    @property
    def train_key(self) -> str:
        """The stored model's key: what determines the trained weights only (the run config's
        training part and seed, the device kind) and the fingerprint of the code that trains. The
        test prompts' settings, the OOD readings and the eval plan are not in it: changing them
        measures the stored model again (harness.run.model_store)."""
        h = content_hash(
            {
                "engine": ENGINE_VERSION,
                "train": training_part(self.run),
                "device": self.device_kind,
            },
            24,
        )
        return f"{h}-{self.train_fp}"

    @property
    def curve_key(self) -> str:
        """The stored checkpoint curves' key: the model's and the curves' reading (the test
        prompts' settings and checkpoint schedule they were recorded under)."""
        return f"{self.train_key}-{content_hash(curve_reading(self.run), 12)}"

    @property
    def model_id(self) -> str:
        """The trained model and how it is measured (eval settings, device kind, record schema), not
        where: a record of the same model id whose eval points include this unit's serves it too."""
        return content_hash(
            {
                "engine": ENGINE_VERSION,
                "schema": SCHEMA_VERSION,
                "run": self.run.non_default_dict(),
                "eval": self.eval,
                "device": self.device_kind,
            },
            24,
        )

    @property
    def identity(self) -> str:
        """What the unit is, on which device kind, for which record schema: the key without the code
        fingerprint (the model id, then a hash of the eval points)."""
        return f"{self.model_id}-{content_hash(self.eval_points, 12)}"

    @property
    def key(self) -> str:
        """The store key: identity and code fingerprint."""
        return f"{self.identity}-{self.fingerprint}"

    def model_key(self) -> str:
        """Units with equal model keys train the same model and measure it with the same settings
        (their eval points may differ): the planner merges them into one unit measured at the union
        of their eval points."""
        return canonical(
            [self.run.non_default_dict(), self.eval, self.device_kind, self.fingerprint]
        )

    def group_key(self) -> str:
        """Units with equal group keys can be trained as one ensemble (equal tensor shapes; each
        member is measured with its own eval plan afterwards)."""
        return canonical(list(self.run.shape_key()))

    def eval_key(self) -> str:
        """Units with equal eval keys are measured together."""
        return canonical([self.eval_points, self.eval])


# the figures (harness.report.figures) that draw the checkpoint curves
CURVE_FIGURES = ("attention_curve", "attention_by_layer")


def reads_curve(claim: Claim) -> bool:
    """Whether the claim's metric or figure reads the checkpoint curves (its units then need the
    curves recorded under their own test prompts)."""
    from harness.claims.metrics import METRICS

    name = claim.metric.get("name")
    return claim.figure in CURVE_FIGURES or (name in METRICS and METRICS.get(name).curve(claim))


def unit_seed(claim: Claim, train_point: dict[str, Any], replicate: int) -> int:
    """The seed of a claim's unit: from the training part of its run config (what determines the
    weights: harness.world.test_fields) with the `pair_over` parameters at the claim's base values
    (seed left out) and the replicate; the claim id does not enter. Test-prompt settings and OOD
    readings do not enter either, so a claim measured under another reading measures the same
    models, paired by seed."""
    paired = training_part(
        point_run(claim, {k: v for k, v in train_point.items() if k not in claim.pair_over})
    )
    paired.pop("seed", None)
    return derive_seed(canonical(paired), replicate)


def expand(claim: Claim, device: str | torch.device = "cpu") -> list[Unit]:
    """The claim's units, keyed for `device` and the code of this process."""
    train_grid = {a: claim.grid[a] for a in claim.train_axes}
    eval_grid = {a: claim.grid[a] for a in claim.eval_axes}
    eval_points = cartesian(eval_grid)
    curve = reads_curve(claim)
    units = []
    for tp in cartesian(train_grid):
        for r in range(claim.replicates):
            units.append(
                Unit(
                    claim.id,
                    tp,
                    r,
                    point_config(claim, tp, unit_seed(claim, tp, r)),
                    eval_points,
                    dict(claim.eval),
                    device_kind(device),
                    reads_curve=curve,
                )
            )
    return units
