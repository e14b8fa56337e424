"""Jobs: what to train, what to measure from stored models, packed into ensembles.

A planned unit without a record needs its model (`Unit.train_key`) and, when a claim it serves reads
the checkpoint curves, those curves under its own test prompts (`Unit.curve_key`). `plan_jobs` asks
the model store for both and makes:
- training jobs, one member per model to train: a model the store lacks, or (a "replay") a stored
  model whose curves a unit needs under test prompts it was not trained with. Training is
  deterministic, so a replay gives the stored weights again; it is counted as a training;
- measuring jobs, one member per stored model: nothing trains, the weights are loaded.
Every pending unit is measured on its member. Members of equal tensor shape share a job (at most
`max_ensemble`); jobs run longest first. `run_job` is a pure function of its job.
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from harness.claims.grid import Unit
from harness.claims.record import Record, Timing
from harness.core.jsonio import canonical
from harness.measure.ensemble import measure_ensemble
from harness.measure.measurement import MemberMeasures
from harness.run.cost_model import member_work, prompt_size, step_work
from harness.run.model_store import ModelStore, StoredCurve, StoredModel, load_members, member_state
from harness.run.provenance import provenance
from harness.training.history import History
from harness.training.trainer import init_ensemble, train_ensemble
from harness.world.config import RunConfig
from harness.world.mixtures import world_structure
from harness.world.seeding import derive_seed
from harness.world.test_fields import curve_reading, training_part
from harness.world.world import World

SEED_PURPOSES = (
    "patterns",
    "label-direction",
    "train-tasks",
    "ood-coefficients",
    "odi",
    "init",
    "train-data",
)


@dataclass
class Member:
    """One model of a job: trained from `run` (its curves recorded under `run`'s test prompts), or
    loaded from the store (`meta` and `state`)."""

    run: RunConfig
    train_key: str
    curve_key: str
    units: list[Unit]
    new: bool = True  # a training of a model the store lacks (False: a replay, or a loaded model)
    meta: StoredModel | None = None
    state: dict[str, torch.Tensor] | None = None

    @property
    def trains(self) -> bool:
        return self.state is None


@dataclass
class Job:
    """Members of equal tensor shape, all trained or all loaded, and the stored curves the units
    read (by curve key) where the job does not record them."""

    members: list[Member]
    curves: dict[str, History] = field(default_factory=dict)

    @property
    def trains(self) -> bool:
        return self.members[0].trains

    @property
    def units(self) -> list[Unit]:
        return [u for m in self.members for u in m.units]

    def steps(self) -> int:
        """Member-steps this job trains (0 for a measuring job)."""
        return sum(m.run.train.steps for m in self.members) if self.trains else 0


@dataclass
class JobResult:
    records: list[Record]
    models: list[tuple[StoredModel, dict[str, torch.Tensor]]]  # new models, to store
    curves: list[StoredCurve]  # curves the job recorded, to store


def expected_cost(job: Job) -> float:
    """A job's expected cost, to schedule the longest first and to weigh the progress bar: its
    members' training work (harness.run.cost_model: steps x (batch + a share of the fixed per-step
    overhead, which keeps long runs of tiny batches from looking free) x one prompt's cost, by
    architecture); a measuring job costs its units' test prompts."""
    r = job.members[0].run
    if not job.trains:
        prompts = sum(len(u.eval_points) * int(u.eval["n_test"]) for u in job.units)
        return float(prompts * prompt_size(r))
    return len(job.members) * member_work(r, len(job.members))


def _members(
    units: list[Unit], models: ModelStore, curves: dict[str, StoredCurve | None]
) -> list[Member]:
    """The members that serve the units of one train key, and the stored curves found."""
    loaded = models.load(units[0].train_key)
    missing = [u for u in units if u.reads_curve and curves[u.curve_key] is None]
    missing_ids = {id(u) for u in missing}
    readings: dict[str, Member] = {}
    for u in missing:
        readings.setdefault(u.curve_key, Member(u.run, u.train_key, u.curve_key, [], new=False))
    if loaded is None:
        if not readings:
            u = units[0]
            readings[u.curve_key] = Member(u.run, u.train_key, u.curve_key, [])
        next(iter(readings.values())).new = True
    out = list(readings.values())
    load = (
        Member(units[0].run, units[0].train_key, "", [], False, loaded[0], loaded[1])
        if loaded is not None
        else None
    )
    first = out[0] if out else None
    for u in units:
        if id(u) in missing_ids:
            readings[u.curve_key].units.append(u)
        elif load is not None:
            load.units.append(u)
        else:
            first.units.append(u)
    return out + ([load] if load is not None and load.units else [])


def plan_jobs(units: list[Unit], models: ModelStore, max_ensemble: int = 64) -> list[Job]:
    """Training and measuring jobs for the pending units, the most expensive first."""
    if max_ensemble < 1:
        raise ValueError(f"max_ensemble must be >= 1, got {max_ensemble}")
    by_train: dict[str, list[Unit]] = defaultdict(list)
    for u in units:
        by_train[u.train_key].append(u)
    curves = {u.curve_key: models.curve(u.curve_key) for u in units}  # each read once
    by_shape: dict[tuple[bool, str], list[Member]] = defaultdict(list)
    for us in by_train.values():
        for m in _members(us, models, curves):
            by_shape[(m.trains, canonical(list(m.run.shape_key())))].append(m)
    jobs = []
    for key in sorted(by_shape):
        ms = by_shape[key]
        for i in range(0, len(ms), max_ensemble):
            job = Job(ms[i : i + max_ensemble])
            for u in job.units:  # stored curves: for the claims and for the figures
                c = curves[u.curve_key]
                if c is not None:
                    job.curves[u.curve_key] = c.history
            jobs.append(job)
    return sorted(jobs, key=expected_cost, reverse=True)  # stable: equal costs keep the key order


def select_members(model: torch.nn.Module, idx: list[int]) -> torch.nn.Module:
    """A copy of an ensemble holding only the members `idx` (every parameter's leading dimension is
    the member; an index may repeat)."""
    sub = copy.deepcopy(model)
    with torch.no_grad():
        for p in sub.parameters():
            p.data = p.data[idx].clone()
    return sub


def measure_units(
    units: list[Unit], member_of: list[int], model: torch.nn.Module, device: str
) -> list[MemberMeasures]:
    """Each unit measured on its member, with its own world (its test prompts and OOD reading) and
    eval plan; units of one eval plan measured together."""
    plans: dict[str, list[int]] = defaultdict(list)
    for i, u in enumerate(units):
        plans[u.eval_key()].append(i)
    worlds = [World.build(u.run) for u in units]
    out: list[MemberMeasures | None] = [None] * len(units)
    n = next(iter(model.parameters())).shape[0]
    for idx in plans.values():
        members = [member_of[i] for i in idx]
        sub = model if members == list(range(n)) else select_members(model, members)
        u = units[idx[0]]
        got = measure_ensemble(sub, [worlds[i] for i in idx], u.eval_points, u.eval, device)
        for i, m in zip(idx, got):
            out[i] = m
    return out


def _record(u: Unit, history: History, meta: StoredModel, meas: MemberMeasures, timing, prov):
    return Record(
        key=u.key,
        identity=u.identity,
        fingerprint=u.fingerprint,
        device_kind=u.device_kind,
        claim=u.claim_id,
        train_point=u.train_point,
        replicate=u.replicate,
        seed=u.run.seed,
        seeds={p: derive_seed(u.run.seed, p) for p in SEED_PURPOSES},
        config=u.run,
        eval_points=u.eval_points,
        eval=u.eval,
        history=history,
        failed=meta.failed,
        failed_at=meta.failed_at,
        measurements=meas.measurements,
        probes=meas.probes,
        provenance=prov,
        timing=timing,
        world=world_structure(u.run.data, u.run.seed),
    )


def _meta(m: Member, failed: bool, failed_at, seconds: float, size: int, compiled: bool):
    return StoredModel(
        key=m.train_key,
        training=training_part(m.run),
        seed=m.run.seed,
        device_kind=m.units[0].device_kind if m.units else "cpu",
        fingerprint=m.train_key.rsplit("-", 1)[-1],
        failed=failed,
        failed_at=failed_at,
        train_seconds=seconds / size,
        ensemble_size=size,
        compiled=compiled,
        weights_sha256="",
    )


def run_job(job: Job, device: str = "cpu", progress: Callable[[int, float], None] | None = None):
    """Train or load the job's members, measure every unit on its member; the records, the new
    models and the recorded curves (a pure function of the job)."""
    ms = job.members
    runs = [m.run for m in ms]
    models, curves = [], []
    if job.trains:
        work = len(ms) * step_work(runs[0], len(ms))  # one step of the whole ensemble
        step = None if progress is None else (lambda n: progress(n * len(ms), n * work))
        trained = train_ensemble(runs, device, progress=step)
        model, histories = trained.model, trained.histories
        metas = [
            _meta(m, bool(f), at, trained.seconds, len(ms), trained.compiled)
            for m, f, at in zip(ms, trained.failed, trained.failed_at)
        ]
        for j, m in enumerate(ms):
            reading = curve_reading(m.run)
            curves.append(StoredCurve(m.curve_key, m.train_key, reading, histories[j]))
            if m.new:
                models.append((metas[j], member_state(model, j)))
        recorded = {m.curve_key: histories[j] for j, m in enumerate(ms)}
        train_s = trained.seconds
    else:
        model = init_ensemble(runs, device)
        load_members(model, [m.state for m in ms])
        metas = [m.meta for m in ms]
        recorded, train_s = {}, 0.0
    t1 = time.perf_counter()
    units = job.units
    member_of = [j for j, m in enumerate(ms) for _ in m.units]
    meas = measure_units(units, member_of, model, device)
    eval_s = time.perf_counter() - t1
    prov = provenance(device)
    records = []
    for u, j, me in zip(units, member_of, meas):
        meta = metas[j]
        history = recorded.get(u.curve_key) or job.curves.get(u.curve_key) or History()
        if job.trains:
            timing = Timing(train_s, eval_s, len(ms), meta.compiled)
        else:
            timing = Timing(
                meta.train_seconds * meta.ensemble_size, eval_s, meta.ensemble_size, meta.compiled
            )
        records.append(_record(u, history, meta, me, timing, prov))
    return JobResult(records, models, curves)
