"""The worlds a claim's seeds drew: every claim measured on OOD prompts (or naming a mixture factor)
is checked for seeds that fall into different worlds of the factor, and its verdict says so, with
each world's mean, instead of letting a mean over seeds hide a mixture (harness.world.mixtures).

How seeds of two worlds are judged is a named reading, `[metric] worlds` (WORLD_READINGS): `pooled`
keeps one judgement over every seed and marks it a mixture with each world's mean beside it;
`each` judges each world's seeds apart by the claim's own rule, so no mean crosses worlds and none
depends on how many seeds happened to draw each. The theorem's OOD conditions (S1 >= 1, ODI in
span(IDI)) say nothing of how the ODR coefficients sit against the training tasks, so both worlds
lie inside them: under `each` the claim holds only if it holds in every world. The figure kind
always judges each world apart."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable

from harness.claims.claim import Claim, point_run
from harness.claims.metrics import Row
from harness.claims.stats import SIGNIFICANCE
from harness.claims.verdict import Verdict, WorldLevel, WorldSplit
from harness.world.mixtures import MIXTURE_FACTORS

OOD_FACTOR = "train_tasks_in_ood_group"  # the factor every OOD claim is checked for
WORLD_READINGS = {
    "pooled": "one judgement over every seed, whatever world it drew; a split is noted with each "
    "world's mean (the pooled mean weighs the worlds by how many seeds drew each)",
    "each": "each world's seeds judged apart by the claim's own rule: CONFIRMED when every world "
    "is, REFUTED when one is (its p times the number of worlds), else INCONCLUSIVE; no mean "
    "crosses worlds",
}
DEFAULT_WORLDS = "pooled"  # a claim file that names no reading


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


def _levels(
    claim: Claim, worlds: dict[str, list[Row]], verdicts: dict[str, str] | None = None
) -> tuple[WorldLevel, ...]:
    return tuple(
        WorldLevel(
            w, _seeds(claim, wr), sum(r.value for r in wr) / len(wr), (verdicts or {}).get(w, "")
        )
        for w, wr in worlds.items()
    )


def world_split(claim: Claim, rows: list[Row]) -> WorldSplit | None:
    """The split of the claim's seeds by its factor, or None when every seed drew one world."""
    name = factor_of(claim)
    if not name or not rows:
        return None
    worlds = rows_by_world(claim, rows, name)
    if len(worlds) < 2:
        return None
    return WorldSplit(name, _levels(claim, worlds))


def with_world_split(claim: Claim, v: Verdict, rows: list[Row]) -> Verdict:
    """The verdict with its seeds' world split and a note, where they drew more than one world."""
    split = world_split(claim, rows)
    if split is None:
        return v
    return dataclasses.replace(v, world_split=split, notes=[*v.notes, split.note()])


def _combined(verdicts: dict[str, Verdict]) -> tuple[str, Verdict]:
    """(the deciding world, one verdict from each world's): the refuting world with the smallest p
    (Bonferroni over the worlds; INCONCLUSIVE when it does not survive), else the first undecided
    world, else the first world (every one CONFIRMED)."""
    k = len(verdicts)
    refuted = [(w, v) for w, v in verdicts.items() if v.verdict == "REFUTED"]
    if refuted:
        w, v = min(refuted, key=lambda wv: wv[1].p_refute)
        p = min(1.0, v.p_refute * k)
        if p < SIGNIFICANCE:
            return w, dataclasses.replace(v, p_refute=p)
        note = f"world {w!r} refutes at p = {v.p_refute:.3g}, not after Bonferroni over {k} worlds"
        undecided = dataclasses.replace(v, verdict="INCONCLUSIVE", p_refute=p)
        return w, dataclasses.replace(undecided, notes=[*v.notes, note])
    for w, v in verdicts.items():
        if v.verdict == "ERROR":  # too few seeds in one world to judge it: undecided
            return w, dataclasses.replace(v, verdict="INCONCLUSIVE")
        if v.verdict != "CONFIRMED":
            return w, v
    return next(iter(verdicts.items()))


def _figure_split(claim: Claim, v: Verdict, rows: list[Row]) -> Verdict:
    """The figure kind judges each world apart itself (its notes say so): the split carries each
    world's verdict from its details, and no second note."""
    split = world_split(claim, rows)
    if split is None:
        return v
    by_world = (v.details or {}).get("worlds", {})
    verdicts = {w: str(d.get("verdict", "")) for w, d in by_world.items()}
    levels = tuple(dataclasses.replace(w, verdict=verdicts.get(w.level, "")) for w in split.levels)
    return dataclasses.replace(v, world_split=WorldSplit(split.factor, levels, judged="each"))


def judge_worlds(
    claim: Claim, rows: list[Row], judge_rows: Callable[[list[Row]], Verdict]
) -> Verdict:
    """The claim judged under its `[metric] worlds` reading: `judge_rows` (the kind's rule on a
    set of rows) on every seed (pooled), or on each world's seeds apart (each)."""
    reading = claim.metric.get("worlds", DEFAULT_WORLDS)
    name = factor_of(claim)
    if claim.kind == "figure" and name and rows:
        return _figure_split(claim, judge_rows(rows), rows)
    if reading == "pooled" or not name or claim.kind == "figure" or not rows:
        return with_world_split(claim, judge_rows(rows), rows)
    worlds = rows_by_world(claim, rows, name)
    if len(worlds) < 2:
        only = next(iter(worlds))
        v = judge_rows(rows)
        return dataclasses.replace(
            v, notes=[*v.notes, f"worlds judged apart: every seed drew {only!r} of {name}"]
        )
    verdicts = {w: judge_rows(wr) for w, wr in worlds.items()}
    levels = _levels(claim, worlds, {w: v.verdict for w, v in verdicts.items()})
    split = WorldSplit(name, levels, judged="each")
    deciding, v = _combined(verdicts)
    return dataclasses.replace(
        v,
        measurement=f"[world {deciding!r}] {v.measurement}",
        world_split=split,
        notes=[*v.notes, split.note()],
    )


__all__ = [
    "world_split",
    "with_world_split",
    "factor_of",
    "rows_by_world",
    "judge_worlds",
    "WORLD_READINGS",
    "DEFAULT_WORLDS",
]
