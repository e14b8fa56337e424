"""The multiverse's plan before it runs (`iclcheck run --dry-run --multiverse`): per alternative,
the claims it applies to, the models it must train, the units it only measures, the records it
reuses, and the time that should take from the store's recorded timings; then the total.

A model counts once, where it is first needed: a model the store holds, or the main run trains, or
an earlier alternative (file order) trains, is measured, not trained again (the multiverse plans
all its variants in one runner call, so this is what it does). A unit that reads a training curve
its stored model lacks (another test sampling) trains again, as `execute` does. The counts are the
run's (`multiverse cost`): a model trained counts once under train, each further unit it serves
under measure. The training estimate uses the ensemble sizes the jobs would have (members of one
shape, at most `max_ensemble` together), so it is the same cost model that schedules the jobs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from harness.claims.grid import Unit
from harness.claims.multiverse_derive import Variant
from harness.run.cost_model import member_work
from harness.run.execution import _usable, find_record
from harness.run.model_store import ModelStore
from harness.run.progress import clock
from harness.run.run_plan_text import Rates, measuring_rate, measuring_seconds, training_rate
from harness.run.runner import plan_with_controls
from harness.run.store import Store
from harness.world.config import RunConfig


@dataclass(frozen=True)
class AlternativePlan:
    """What one alternative adds to the run: counts and its estimated seconds (None: no timings)."""

    name: str
    claims: int
    skipped: int
    units: int
    train: int
    member_steps: int
    measure_only: int
    reuse: int
    train_seconds: float | None
    measure_seconds: float | None


def _training_seconds(runs: list[RunConfig], max_ensemble: int, rates: Rates) -> float:
    """Seconds to train `runs` in ensembles of one shape, at most `max_ensemble` together."""
    by_shape: dict[str, list[RunConfig]] = defaultdict(list)
    for r in runs:
        by_shape[repr(r.shape_key())].append(r)
    seconds = 0.0
    for rs in by_shape.values():
        for i in range(0, len(rs), max_ensemble):
            chunk = rs[i : i + max_ensemble]
            seconds += sum(rates.of(r) * member_work(r, len(chunk)) for r in chunk)
    return seconds


def trainings(units: list[Unit]) -> list[RunConfig]:
    """The members `execute` trains for units that lack a model or its curve: one per curve
    reading a train key needs, else one for the train key (units that read no curve ride on the
    first member, as `jobs._members` places them)."""
    readings: dict[str, dict[str, RunConfig]] = defaultdict(dict)
    for u in units:
        readings[u.train_key].setdefault(u.curve_key if u.reads_curve else "", u.run)
    runs: list[RunConfig] = []
    for by_curve in readings.values():
        curves = [r for k, r in by_curve.items() if k]
        runs.extend(curves or by_curve.values())
    return runs


class _Provided:
    """Which trained models and curves the run will have before an alternative runs."""

    def __init__(self, store: Store):
        self.models = ModelStore(store)
        self.train_keys: set[str] = set()
        self.curve_keys: set[str] = set()

    def add(self, units: list[Unit]) -> None:
        for u in units:
            self.train_keys.add(u.train_key)
            if u.reads_curve:
                self.curve_keys.add(u.curve_key)

    def has(self, u: Unit) -> bool:
        model = u.train_key in self.train_keys or self.models.has(u.train_key)
        curve = (
            not u.reads_curve
            or u.curve_key in self.curve_keys
            or self.models.curve(u.curve_key) is not None
        )
        return model and curve


def plan_alternatives(
    main_units: list[Unit],
    variants: dict[str, list[Variant]],
    store: Store,
    device: str = "cpu",
    max_ensemble: int = 64,
    reuse_stale: bool = False,
) -> list[AlternativePlan]:
    """One AlternativePlan per alternative, in the multiverse file's order."""
    by_alt: dict[str, list[Variant]] = defaultdict(list)
    for vs in variants.values():
        for v in vs:
            by_alt[v.alternative.name].append(v)
    rate, mrate = training_rate(store), measuring_rate(store)
    provided = _Provided(store)
    provided.add(main_units)
    out = []
    for name, vs in by_alt.items():
        claims = [v.claim for v in vs if v.claim is not None]
        units = plan_with_controls(claims, device).units if claims else []
        reuse = measure = 0
        to_train: list[Unit] = []
        pending: list[Unit] = []
        for u in units:
            if _usable(find_record(store, u, reuse_stale), u) is not None:
                reuse += 1
                continue
            pending.append(u)
            if provided.has(u):
                measure += 1
            else:
                to_train.append(u)
        provided.add(units)
        runs = trainings(to_train)
        measure += len(to_train) - len(runs)  # measured on a model another unit trains
        out.append(
            AlternativePlan(
                name=name,
                claims=len(claims),
                skipped=len(vs) - len(claims),
                units=len(units),
                train=len(runs),
                member_steps=sum(r.train.steps for r in runs),
                measure_only=measure,
                reuse=reuse,
                train_seconds=None if rate is None else _training_seconds(runs, max_ensemble, rate),
                measure_seconds=measuring_seconds(mrate, pending),
            )
        )
    return out


def _seconds(p: AlternativePlan) -> float | None:
    if p.train_seconds is None:
        return None
    return p.train_seconds + (p.measure_seconds or 0.0)


def _human(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n / 1e3:.0f}k" if n >= 10_000 else str(n)


def plan_lines(plans: list[AlternativePlan], timings_from: int | None) -> list[str]:
    """The per-alternative table and its total, each line within 100 columns."""
    head = (
        f"  {'alternative':<20} {'claims':>6} {'skip':>5} {'train':>6} {'member-steps':>12} "
        f"{'measure':>8} {'reuse':>6} {'estimate':>9}"
    )
    n_var = sum(p.claims for p in plans)
    lines = [
        f"multiverse: {n_var} claim variants under {len(plans)} alternatives "
        f"({sum(p.skipped for p in plans)} not applicable, skipped)",
        head,
    ]

    def row(name: str, p_claims, skip, train, steps, measure, reuse, secs) -> str:
        est = "?" if secs is None else clock(secs)
        return (
            f"  {name[:20]:<20} {p_claims:>6} {skip:>5} {train:>6} {_human(steps):>12} "
            f"{measure:>8} {reuse:>6} {est:>9}"
        )

    for p in plans:
        lines.append(
            row(
                p.name,
                p.claims,
                p.skipped,
                p.train,
                p.member_steps,
                p.measure_only,
                p.reuse,
                _seconds(p),
            )
        )
    secs = [_seconds(p) for p in plans]
    total = None if any(s is None for s in secs) else sum(secs)  # type: ignore[arg-type]
    lines.append(
        row(
            "total",
            n_var,
            sum(p.skipped for p in plans),
            sum(p.train for p in plans),
            sum(p.member_steps for p in plans),
            sum(p.measure_only for p in plans),
            sum(p.reuse for p in plans),
            total,
        )
    )
    if total is None:
        lines.append("  estimate: no recorded timings in this store yet")
    else:
        lines.append(
            f"  estimate: about {clock(total)} for the multiverse after the main run, from "
            f"{timings_from} stored models' timings"
        )
    if plans:
        costly = sorted((p for p in plans if _seconds(p)), key=_seconds, reverse=True)[:3]
        if costly:
            lines.append(
                "  costliest: " + ", ".join(f"{p.name} {clock(_seconds(p) or 0)}" for p in costly)
            )
    return lines
