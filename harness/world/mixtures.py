"""Mixture factors: properties of a seed's world that split the seeds of one setting into different
worlds, so that a mean over them is a mixture and not a spread.

A factor is computed from the data config and the run seed alone (what the seed draws), before any
training, so it can be reported beside every measurement of that seed. Registering one is one
`MIXTURE_FACTORS.add(MixtureFactor(name, text, level))`; a claim names it in `[metric] mixture`, and
the kinds that read it judge each level apart (harness.claims.kinds.figure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.core.registry import Registry
from harness.world.config import DataConfig
from harness.world.tasks import training_tasks


@dataclass(frozen=True)
class MixtureFactor:
    name: str
    text: str  # one line: what splits the worlds and why it matters
    level: Callable[[DataConfig, int], str]  # (data config, run seed) -> the seed's level


MIXTURE_FACTORS: Registry[MixtureFactor] = Registry("mixture factor")


def ood_group(cfg: DataConfig, pattern: int) -> int | None:
    """The ODR pattern whose group mixes IDR `pattern` under `cfg.ood_spread` (None: no group, or
    every group when the spread is 'all')."""
    if cfg.ood_spread == "all":
        return 0
    size = cfg.ood_group_size
    j = pattern // size
    return j if j < cfg.M1_ood else None


def tasks_inside_ood_groups(cfg: DataConfig, seed: int) -> int:
    """How many training tasks (a, b) pit two IDR patterns of one ODR group against each other: the
    model is trained to tell apart exactly the components an ODR pattern mixes."""
    rows = training_tasks(cfg, seed).tolist()
    count = 0
    for a, b in rows:
        ga = ood_group(cfg, a)
        count += ga is not None and ga == ood_group(cfg, b)
    return count


def _shift_level(cfg: DataConfig, seed: int) -> str:
    n = tasks_inside_ood_groups(cfg, seed)
    return "trains inside ODR groups" if n else "no task inside an ODR group"


MIXTURE_FACTORS.add(
    MixtureFactor(
        "train_tasks_in_ood_group",
        "whether the seed's training tasks pit the two IDR patterns of one ODR group against each "
        "other (with ood_spread = 'pair' and one cyclic shift, the shifts +-1 do): those seeds "
        "carry the OOD error",
        _shift_level,
    )
)


@dataclass(frozen=True)
class WorldStructure:
    """What a seed's world drew, stored on every record: its training tasks, their cyclic shifts
    (uniform coverage; empty otherwise), for each ODR pattern whether some training task pits two
    IDR patterns it mixes against each other, and the seed's level of every mixture factor."""

    train_tasks: tuple[tuple[int, int], ...]
    shifts: tuple[int, ...]
    ood_groups_trained: tuple[bool, ...]
    levels: tuple[tuple[str, str], ...]  # (factor name, level), in registration order

    def level(self, factor: str) -> str:
        return dict(self.levels)[factor]

    @classmethod
    def from_json(cls, d: dict) -> WorldStructure:
        return cls(
            tuple((int(a), int(b)) for a, b in d["train_tasks"]),
            tuple(int(s) for s in d["shifts"]),
            tuple(bool(t) for t in d["ood_groups_trained"]),
            tuple((str(f), str(v)) for f, v in d["levels"]),
        )


def world_structure(cfg: DataConfig, seed: int) -> WorldStructure:
    """The structure the run seed's world drew (computed from the config and seed alone)."""
    rows = [(int(a), int(b)) for a, b in training_tasks(cfg, seed).tolist()]
    shifts = sorted({(b - a) % cfg.M1 for a, b in rows}) if cfg.coverage == "uniform" else []
    inside = set()
    for a, b in rows:
        ga = ood_group(cfg, a)
        if ga is not None and ga == ood_group(cfg, b):
            inside |= set(range(cfg.M1_ood)) if cfg.ood_spread == "all" else {ga}
    levels = tuple((n, MIXTURE_FACTORS.get(n).level(cfg, seed)) for n in MIXTURE_FACTORS)
    trained = tuple(j in inside for j in range(cfg.M1_ood))
    return WorldStructure(tuple(rows), tuple(shifts), trained, levels)


__all__ = [
    "MIXTURE_FACTORS",
    "MixtureFactor",
    "WorldStructure",
    "tasks_inside_ood_groups",
    "ood_group",
    "world_structure",
]
