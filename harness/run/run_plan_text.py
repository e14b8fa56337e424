"""The plan of a run, said before anything runs: the claims, the models to train, to measure and
to reuse, and the time it should take, in at most 100 columns (`iclcheck run --dry-run` prints it
and exits 0; a run prints it before training).

The estimate reads the store's own timings: seconds per unit of training cost from the stored
models, per architecture (their recorded training time over the cost of their config,
harness.run.cost_model), and seconds per test prompt from the stored unit records, the median of
each, so it is as good as the store is like the run; with no timings it says so.
"""

from __future__ import annotations

import statistics
import textwrap
from dataclasses import dataclass

from harness.claims.grid import Unit
from harness.claims.record import Record
from harness.run.cost_model import member_work
from harness.run.execution import NAMESPACE, Pending, pending_work
from harness.run.jobs import expected_cost
from harness.run.model_store import MODELS, StoredModel
from harness.run.plan import RunPlan
from harness.run.progress import clock
from harness.run.store import Store
from harness.world.config import RunConfig

WIDTH = 100
SAMPLE = 200  # stored files read for the timing rates (the newest first)


def _newest(store: Store, namespace: str) -> list:
    paths = store.paths(namespace)
    return sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True)[:SAMPLE]


@dataclass(frozen=True)
class TrainingRates:
    """Seconds per unit of training cost (harness.run.cost_model) that the store's models took,
    the median per architecture, and over all of them for an architecture the store lacks."""

    by_arch: dict[str, float]
    overall: float
    models: int  # how many stored models the rates are from

    def of(self, run: RunConfig) -> float:
        return self.by_arch.get(run.model.arch, self.overall)


def training_rate(store: Store) -> TrainingRates | None:
    """The store's training rates (None: no stored model with a recorded training time)."""
    rates: dict[str, list[float]] = {}
    for p in _newest(store, MODELS):
        m = store.read_path(p, StoredModel.from_json)
        if m is None or m.train_seconds <= 0:
            continue
        try:
            run = RunConfig.from_dict(m.training)
        except (TypeError, ValueError, KeyError):
            continue
        work = member_work(run, m.ensemble_size)
        if work > 0:  # an untrained model (steps = 0, the init control) has no rate
            rates.setdefault(run.model.arch, []).append(m.train_seconds / work)
    if not rates:
        return None
    every = [r for rs in rates.values() for r in rs]
    return TrainingRates(
        {a: statistics.median(rs) for a, rs in rates.items()},
        statistics.median(every),
        len(every),
    )


def measuring_rate(store: Store) -> float | None:
    """Seconds per test prompt measured, from the stored unit records, or None."""
    rates = []
    for p in _newest(store, NAMESPACE):
        r = store.read_path(p, Record.from_json)
        prompts = len(r.eval_points) * int(r.eval.get("n_test", 0)) if r is not None else 0
        if prompts:
            rates.append(r.timing.eval_seconds_ensemble / r.timing.ensemble_size / prompts)
    return statistics.median(rates) if rates else None


@dataclass(frozen=True)
class PlanSummary:
    """What a run will do and about how long it takes."""

    claims: list[str]
    controls: int
    units_requested: int
    planned: int
    train: int
    replays: int
    member_steps: int
    measure_only: int
    reuse: int
    train_seconds: float | None
    measure_seconds: float | None
    timings_from: int

    def lines(self) -> list[str]:
        est = "no recorded timings in this store yet"
        if self.train_seconds is not None:
            est = f"about {clock(self.train_seconds)} of training (from {self.timings_from} stored"
            est += " models)"
            if self.measure_seconds is not None:
                est += f", {clock(self.measure_seconds)} of measuring"
        replays = (
            f" ({self.replays} again for curves under new test prompts)" if self.replays else ""
        )
        claims = ", ".join(self.claims)
        return [
            f"plan: {len(self.claims)} claims and {self.controls} controls, "
            f"{self.units_requested} claim units on {self.planned} distinct measurements",
            f"  train         {self.train} models{replays}, {self.member_steps} member-steps",
            f"  measure only  {self.measure_only} units on stored models",
            f"  reuse         {self.reuse} stored records",
            f"  estimate      {est}",
            *textwrap.wrap(
                f"claims: {claims}", WIDTH, subsequent_indent="  ", break_on_hyphens=False
            ),
        ]


def summarize(
    plan: RunPlan,
    store: Store,
    claim_ids: list[str],
    max_ensemble: int = 64,
    reuse_stale: bool = False,
) -> PlanSummary:
    """The plan's work against the store (the same lookup `execute` makes) and its estimate."""
    work: Pending = pending_work(plan.units, store, max_ensemble, reuse_stale)
    trains = [m for j in work.jobs if j.trains for m in j.members]
    rate = training_rate(store)
    train_seconds = (
        None
        if rate is None
        else sum(rate.of(j.members[0].run) * expected_cost(j) for j in work.jobs if j.trains)
    )
    mrate = measuring_rate(store)
    todo: list[Unit] = [u for j in work.jobs for u in j.units]
    return PlanSummary(
        claims=claim_ids,
        controls=len(plan.claims) - len(claim_ids),
        units_requested=plan.requested,
        planned=len(plan.units),
        train=len(trains),
        replays=sum(not m.new for m in trains),
        member_steps=sum(m.run.train.steps for m in trains),
        measure_only=work.measures_only(),
        reuse=sum(r is not None for r in work.found.values()),
        train_seconds=train_seconds,
        measure_seconds=None
        if mrate is None
        else mrate * sum(len(u.eval_points) * int(u.eval["n_test"]) for u in todo),
        timings_from=0 if rate is None else rate.models,
    )
