"""The plan of a run, said before anything runs: the claims, the models to train, to measure and
to reuse, and the time it should take, in at most 100 columns (`iclcheck run --dry-run` prints it
and exits 0; a run prints it before training).

The estimate reads the store's own timings: seconds per unit of training cost from the stored
models, per architecture (their recorded training time over the cost of their config,
harness.run.cost_model), and seconds per test prompt from the stored unit records, the median of
each, so it is as good as the store is like the run; with no timings it says so.
"""

from __future__ import annotations

import re
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
from harness.world.config import ModelConfig, RunConfig

WIDTH = 100
SAMPLE = 200  # timings the rates are from, per architecture (the newest first)
DEFAULT_ARCH = ModelConfig().arch


def _newest(store: Store, namespace: str) -> list:
    paths = store.paths(namespace)
    return sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True)


@dataclass(frozen=True)
class Rates:
    """Seconds per unit of cost that the store's models took (training: harness.run.cost_model's
    work; measuring: one test prompt), the median per architecture, and over all of them for an
    architecture the store lacks."""

    by_arch: dict[str, float]
    overall: float
    models: int  # how many stored timings the rates are from

    def of(self, run: RunConfig) -> float:
        return self.by_arch.get(run.model.arch, self.overall)


def _medians(samples: dict[str, list[float]]) -> Rates | None:
    samples = {a: rs for a, rs in samples.items() if rs}
    if not samples:
        return None
    every = [r for rs in samples.values() for r in rs]
    return Rates(
        {a: statistics.median(rs) for a, rs in samples.items()},
        statistics.median(every),
        len(every),
    )


_ARCH = re.compile(r'"arch":\s*"([^"]*)"')


def _arch_hint(path) -> str | None:
    """The architecture a stored file names, from the first `"arch"` in its raw text: a hint that
    only picks which files to read, checked, for the rates (a stored file is sorted JSON, so its
    run config comes before its measurements; parsing 150 KB records whole took 9 s on 3.7k)."""
    try:
        found = _ARCH.search(path.read_text())
    except (OSError, UnicodeDecodeError):
        return None
    return found.group(1) if found else DEFAULT_ARCH


def _sampled(store: Store, namespace: str, parse, rate_of) -> Rates | None:
    """Rates from the namespace's files, newest first, up to SAMPLE per architecture: the newest
    run's files (often one architecture, or untrained init controls) must not leave another
    architecture unpriced. Each file is read checked (store.read_path) before its timing counts,
    under the architecture its checked config names; `rate_of(parsed)` is (architecture, rate) or
    None."""
    by_hint: dict[str, list] = {}
    for p in _newest(store, namespace):
        hint = _arch_hint(p)
        if hint is not None:
            by_hint.setdefault(hint, []).append(p)
    rates: dict[str, list[float]] = {}
    for paths in by_hint.values():
        taken = 0
        for p in paths:
            parsed = store.read_path(p, parse)
            rate = rate_of(parsed) if parsed is not None else None
            if rate is not None:
                rates.setdefault(rate[0], []).append(rate[1])
                taken += 1
            if taken >= SAMPLE:
                break
    return _medians(rates)


def _training(m: StoredModel) -> tuple[str, float] | None:
    if m.train_seconds <= 0:
        return None
    try:
        run = RunConfig.from_dict(m.training)
    except (TypeError, ValueError, KeyError):
        return None
    work = member_work(run, m.ensemble_size)
    # an untrained model (steps = 0, the init control) has no rate
    return (run.model.arch, m.train_seconds / work) if work > 0 else None


def _measuring(r: Record) -> tuple[str, float] | None:
    prompts = prompts_of(r)
    if not prompts:
        return None
    return r.config.model.arch, r.timing.eval_seconds_ensemble / r.timing.ensemble_size / prompts


def training_rate(store: Store) -> Rates | None:
    """Seconds per unit of training work, per architecture (None: no stored model with a
    recorded training time)."""
    return _sampled(store, MODELS, StoredModel.from_json, _training)


def measuring_rate(store: Store) -> Rates | None:
    """Seconds per test prompt measured, per architecture, from the stored unit records, or
    None."""
    return _sampled(store, NAMESPACE, Record.from_json, _measuring)


def prompts_of(u: Unit | Record) -> int:
    """The test prompts a unit measures, or a stored record measured (0: a record without
    `n_test`)."""
    return len(u.eval_points) * int(u.eval.get("n_test", 0))


def measuring_seconds(rates: Rates | None, units: list[Unit]) -> float | None:
    """Seconds to measure `units` at the store's per-architecture rates (None: no rates)."""
    return None if rates is None else sum(rates.of(u.run) * prompts_of(u) for u in units)


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
        measure_seconds=measuring_seconds(mrate, todo),
        timings_from=0 if rate is None else rate.models,
    )
