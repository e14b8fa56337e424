"""The worlds a claim's seeds drew: every claim measured on OOD prompts (or naming a mixture factor)
is checked for seeds that fall into different worlds of the factor, and its verdict says so, with
each world's mean, instead of letting a mean over seeds hide a mixture (harness.world.mixtures).

The figure kind judges each world apart; the other kinds keep their pooled judgement, now marked
as a mixture with the per-world means beside it."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from harness.claims.claim import Claim, point_run
from harness.claims.metrics import Row
from harness.claims.verdict import Verdict, WorldLevel, WorldSplit
from harness.world.mixtures import MIXTURE_FACTORS

OOD_FACTOR = "train_tasks_in_ood_group"  # the factor every OOD claim is checked for


def factor_of(claim: Claim) -> str:
    """The mixture factor the claim is checked for ('' for none)."""
    if claim.metric.get("mixture"):
        return str(claim.metric["mixture"])
    return OOD_FACTOR if claim.metric.get("domain") == "ood" else ""


def rows_by_world(claim: Claim, rows: list[Row], factor: str) -> dict[str, list[Row]]:
    """The rows by the level of mixture factor `factor` that each row's seed drew (the seed of its
    train point and replicate, harness.claims.grid.unit_seed), in level order."""
    from harness.claims.grid import unit_seed

    level = MIXTURE_FACTORS.get(factor).level
    train = set(claim.train_axes)
    out: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        seed = unit_seed(claim, {k: v for k, v in r.point.items() if k in train}, r.replicate)
        out[level(point_run(claim, r.point, seed).data, seed)].append(r)
    return dict(sorted(out.items()))


def _seeds(claim: Claim, rows: list[Row]) -> int:
    """How many seeds (train point, replicate) the rows come from."""
    train = set(claim.train_axes)
    return len(
        {
            (tuple(sorted((k, v) for k, v in r.point.items() if k in train)), r.replicate)
            for r in rows
        }
    )


def world_split(claim: Claim, rows: list[Row]) -> WorldSplit | None:
    """The split of the claim's seeds by its factor, or None when every seed drew one world."""
    name = factor_of(claim)
    if not name or not rows:
        return None
    worlds = rows_by_world(claim, rows, name)
    if len(worlds) < 2:
        return None
    levels = tuple(
        WorldLevel(w, _seeds(claim, wr), sum(r.value for r in wr) / len(wr))
        for w, wr in worlds.items()
    )
    return WorldSplit(name, levels)


def with_world_split(claim: Claim, v: Verdict, rows: list[Row]) -> Verdict:
    """The verdict with its seeds' world split and a note, where they drew more than one world."""
    split = world_split(claim, rows)
    if split is None:
        return v
    return dataclasses.replace(v, world_split=split, notes=[*v.notes, split.note()])


__all__ = ["world_split", "with_world_split", "factor_of", "rows_by_world"]
