"""Executing units: train what the store lacks, measure the rest from stored models, store.

One executor interface, three engines:
- "local": in this process, nothing to start (the default);
- "process": a local process pool, torch threads capped per worker so the
  workers together use the cores once;
- "dask": Dask distributed (a LocalCluster on loopback, or a scheduler address).
A unit's record (its measurements, DIR/units/<key>.json) is looked up by its key (which names the
code fingerprint and device kind); with `reuse_stale`, a record of the same identity written by
other code is reused, and counted as such. A unit without a record is measured on its stored model
(harness.run.model_store), and only a model the store lacks is trained (harness.run.jobs). Records
depend only on each unit's seed and config, never on grouping, worker or order. Each finished job's
models, curves and records are written as soon as they arrive, so a crash or kill loses at most the
jobs in flight; a rerun resumes. Jobs run longest first, so parallel executors finish together.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from queue import Empty

from harness.claims.grid import Unit, device_kind
from harness.claims.record import Record
from harness.core.choices import EXECUTORS
from harness.core.fingerprint import code_fingerprint
from harness.core.jsonio import canonical
from harness.run.jobs import Job, JobResult, expected_cost, plan_jobs, run_job
from harness.run.model_store import MODELS, ModelStore
from harness.run.progress import Progress
from harness.run.store import Store
from harness.training.runtime import RuntimeSettings

NAMESPACE = "units"  # the store folder of claim units (results/store/units/<key>.json)
PROGRESS_EVERY = 25  # a worker reports its training progress every this many steps


class _QueueProgress:
    """A worker's step callback that sends (member-steps, work) to the parent in batches."""

    def __init__(self, queue):
        self.queue, self.steps, self.work = queue, 0, 0.0

    def __call__(self, n: int, work: float) -> None:
        self.steps += n
        self.work += work
        if self.steps >= PROGRESS_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.steps:
            self.queue.put((self.steps, self.work))
            self.steps, self.work = 0, 0.0


def run_group(job: Job, device: str = "cpu", progress=None) -> JobResult:
    """Run one job (train or load its members, measure its units): a pure function of the job.
    `progress` is a step callback (member-steps, work), or a queue (a worker's) that receives
    them."""
    if progress is None or callable(progress):
        return run_job(job, device, progress)
    sender = _QueueProgress(progress)
    try:
        return run_job(job, device, sender)
    finally:
        sender.flush()


def find_record(store: Store, unit: Unit, reuse_stale: bool = False) -> Record | None:
    """The unit's stored record, else one of the same model id (same model, eval settings, device
    kind and schema) measured at a superset of its eval points (a run that planned more claims wrote
    it): this code's first, then, with `reuse_stale`, the newest usable one written by other code.
    """
    rec = store.read(NAMESPACE, unit.key, Record.from_json)
    if rec is not None:
        return rec
    mine = f"-{unit.fingerprint}"
    paths = [
        p
        for p in store.paths(NAMESPACE, f"{unit.model_id}-*")
        if p.stem != unit.key and (reuse_stale or p.stem.endswith(mine))
    ]
    want = {canonical(p) for p in unit.eval_points}
    for p in sorted(paths, key=lambda p: (p.stem.endswith(mine), p.stat().st_mtime), reverse=True):
        rec = store.read_path(p, Record.from_json)
        if (
            rec is not None
            and rec.identity.startswith(f"{unit.model_id}-")
            and want <= {canonical(q) for q in rec.eval_points}
        ):
            return rec
    return None


class Executor:
    """Runs jobs and yields (job, its result or the exception that ended it); `progress(n, work)`
    receives member-steps and their work (harness.run.cost_model) as they train (per step here,
    in batches from workers)."""

    def __init__(self, jobs: int = 1, device: str = "cpu", address: str | None = None):
        self.jobs, self.device, self.address = max(1, jobs), device, address

    def map_groups(
        self, groups: list[Job], progress: Callable[[int, float], None] | None = None
    ) -> Iterator[tuple[Job, JobResult | BaseException]]:
        for g in groups:
            try:
                yield g, run_group(g, self.device, progress)
            except Exception as exc:  # a crashed job is reported, the others go on
                yield g, exc

    def close(self) -> None:
        pass


def _threads_per_worker(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // jobs)


class ProcessExecutor(Executor):
    """A local process pool; on CUDA its workers are spawned, not forked (a fork after CUDA is
    initialised is broken)."""

    def map_groups(self, groups, progress=None):
        settings = RuntimeSettings.from_env(threads=_threads_per_worker(self.jobs))
        ctx = multiprocessing.get_context("spawn") if device_kind(self.device) == "cuda" else None
        manager = multiprocessing.Manager() if progress is not None and groups else None
        queue = manager.Queue() if manager is not None else None
        try:
            with ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=ctx,
                initializer=settings.apply,
                initargs=(self.device,),
            ) as pool:
                futs = {pool.submit(run_group, g, self.device, queue): g for g in groups}
                pending = set(futs)
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    _drain(queue, progress)
                    for f in done:
                        exc = f.exception()
                        yield futs[f], (exc if exc is not None else f.result())
        finally:
            if manager is not None:
                manager.shutdown()


def _drain(queue, progress) -> None:
    """Hand the (member-steps, work) the workers reported to `progress`."""
    if queue is None:
        return
    while True:
        try:
            n, work = queue.get_nowait()
        except Empty:
            return
        progress(n, work)


def run_group_on_worker(job: Job, device: str = "cpu") -> tuple[JobResult, str]:
    """run_group on a Dask worker, with the address of the worker that ran it. The units' keys were
    made on the client: a worker whose code that trains and measures differs (another fingerprint)
    refuses them."""
    units = job.units if isinstance(job, Job) else job
    mine = code_fingerprint()
    theirs = sorted({u.fingerprint for u in units} - {mine})
    if theirs:
        raise RuntimeError(
            f"this worker's code (fingerprint {mine}) differs from the client's "
            f"({', '.join(theirs)}): "
            "install the client's commit on every worker"
        )
    from distributed import get_worker

    return run_group(job, device), get_worker().address


class DaskExecutor(Executor):
    """Dask distributed: a local cluster on 127.0.0.1 unless a scheduler address is given.

    Local: `jobs` single-threaded worker processes sharing the cores; with device "cuda" one worker
    per visible GPU, each pinned to it (`dask_plugin.worker_envs`). Remote: each worker uses the
    device its own environment exposes, and its own cores (the worker plugin). `ran_on` maps each
    finished unit's key to the address of the worker that trained it."""

    def __init__(self, jobs: int = 1, device: str = "cpu", address: str | None = None):
        super().__init__(jobs, device, address)
        try:
            from distributed import Client
        except ImportError:
            raise ValueError(
                "executor 'dask' needs the dask extra: pip install 'icl-claimcheck[dask]'"
            ) from None
        from harness.run.dask_plugin import (
            RuntimePlugin,
            local_cluster,
            usable_cores,
            visible_gpus,
            worker_envs,
        )

        settings = RuntimeSettings.from_env()
        self.ran_on: dict[str, str] = {}
        if address:
            self.cluster = None
            self.client = Client(address)
        else:
            gpus = visible_gpus(_cuda_count()) if device == "cuda" else []
            self.cluster = local_cluster(
                worker_envs(device, self.jobs, usable_cores(), gpus, settings.threads)
            )
            self.client = Client(self.cluster)
        self.client.register_plugin(RuntimePlugin(settings.with_threads(None), device))

    def map_groups(self, groups, progress=None):
        from distributed import as_completed as das_completed

        futs = {
            self.client.submit(run_group_on_worker, g, self.device, pure=False): i
            for i, g in enumerate(groups)
        }
        for f in das_completed(list(futs)):
            g = groups[futs[f]]
            if f.status == "error":
                yield g, f.exception()
            else:
                result, worker = f.result()
                self.ran_on.update((u.key, worker) for u in g.units)
                if progress is not None and g.trains:
                    progress(g.steps(), expected_cost(g))
                yield g, result

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count()


def make_executor(
    name: str, jobs: int = 1, device: str = "cpu", address: str | None = None
) -> Executor:
    if name not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
    return {"local": Executor, "process": ProcessExecutor, "dask": DaskExecutor}[name](
        jobs, device, address
    )


@dataclass(frozen=True)
class Pending:
    """What a run has to do: units with a usable record, and jobs for the rest."""

    found: dict[int, Record | None]  # id(unit) -> its stored record (None: to measure)
    jobs: list[Job]

    def trainings(self) -> int:
        """Models to train (replays for curves included)."""
        return sum(len(j.members) for j in self.jobs if j.trains)

    def measures_only(self) -> int:
        """Units measured on stored models, nothing trained for them."""
        return sum(len(j.units) for j in self.jobs if not j.trains)


def _usable(rec: Record | None, unit: Unit) -> Record | None:
    """A record serves its unit unless the unit reads curves the record lacks (it was measured on
    a model trained under other test prompts)."""
    return None if rec is not None and unit.reads_curve and not rec.history.steps else rec


def pending_work(
    units: list[Unit], store: Store, max_ensemble: int = 64, reuse_stale: bool = False
) -> Pending:
    """Look every unit up (its record, else its stored model and curves) and plan the jobs: the
    same lookup serves `execute` and the dry-run plan."""
    found = {id(u): _usable(find_record(store, u, reuse_stale), u) for u in units}
    todo = [u for u in units if found[id(u)] is None]
    return Pending(found, plan_jobs(todo, ModelStore(store), max_ensemble) if todo else [])


def predates_models(store: Store) -> bool:
    """A store with unit records but no stored models (written before models were kept)."""
    return bool(store.paths(NAMESPACE)) and not (store.dir / MODELS).exists()


def execute(
    units: list[Unit],
    store: Store,
    executor: Executor,
    max_ensemble: int = 64,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    reuse_stale: bool = False,
    outcomes: dict[str, str] | None = None,
) -> dict[str, int]:
    """Measure every unit without a usable stored record, training only the models the store lacks;
    returns counts {done, measured, skipped, crashed, stale}: done = units whose model trained here
    (one per model trained), measured = units measured on a stored or shared model, stale = records
    of other code reused under `reuse_stale` (counted in skipped too). `outcomes`, if given,
    receives each unit's key -> "done", "measured", "skipped" or "crashed"."""
    log = log or (lambda s: print(s, file=sys.stderr))
    kind = device_kind(executor.device)
    wrong = sorted({u.device_kind for u in units} - {kind})
    if wrong:
        raise ValueError(
            f"units were keyed for device kind {', '.join(wrong)} but the executor runs on {kind}: "
            "expand(claim, device)"
        )
    if predates_models(store):
        log(
            f"note: store {store.dir} predates stored models: each model is trained once more "
            "when a unit needs it, then kept"
        )
    work = pending_work(units, store, max_ensemble, reuse_stale)
    found = work.found
    stale = sum(
        r is not None and r.fingerprint != u.fingerprint
        for u, r in ((u, found[id(u)]) for u in units)
    )
    skipped = sum(r is not None for r in found.values())
    counts = {"done": 0, "measured": 0, "skipped": skipped, "crashed": 0, "stale": stale}
    outcomes = {} if outcomes is None else outcomes
    outcomes.update({u.key: "skipped" for u in units if found[id(u)] is not None})
    if not work.jobs:
        return counts
    models = ModelStore(store)
    trains = [j for j in work.jobs if j.trains]
    bar = Progress(
        sum(j.steps() for j in trains),
        sum(len(j.units) for j in work.jobs),
        progress,
        work=sum(expected_cost(j) for j in trains),
    )
    try:
        for job, result in executor.map_groups(work.jobs, bar.trained if progress else None):
            if isinstance(result, BaseException):
                counts["crashed"] += len(job.units)
                outcomes.update({u.key: "crashed" for u in job.units})
                log(
                    f"error: {', '.join(sorted({u.claim_id for u in job.units}))}: a job of "
                    f"{len(job.members)} models crashed: {type(result).__name__}: {result}"
                )
                continue
            for meta, state in result.models:
                models.write(meta, state)
            for curve in result.curves:
                models.write_curve(curve)
            for rec in result.records:
                store.write(NAMESPACE, rec)
            for m in job.members:
                first = job.trains
                for u in m.units:
                    outcome = "done" if first else "measured"
                    counts[outcome] += 1
                    outcomes[u.key] = outcome
                    first = False
            bar.measured(len(job.units))
    finally:
        bar.close()
    return counts
