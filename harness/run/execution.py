"""Executing units: group by tensor shape into ensembles, train, measure, store.

One executor interface, three engines:
- "local": in this process, nothing to start (the default);
- "process": a local process pool, torch threads capped per worker so the
  workers together use the cores once;
- "dask": Dask distributed (a LocalCluster on loopback, or a scheduler address).
Records depend only on each unit's seed and config, never on grouping, worker
or order. Each finished group's records are written as soon as they arrive, so
a crash or kill loses at most the groups in flight; a rerun resumes. A unit's
record is looked up by its key (which names the code fingerprint and device
kind); with `reuse_stale`, a record of the same identity written by other code
is reused instead of retrained, and counted as such.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterator


from harness.claims.grid import Unit, device_kind
from harness.claims.record import Record, Timing
from harness.core.fingerprint import code_fingerprint
from harness.measure.ensemble import measure_ensemble
from harness.run.provenance import provenance
from harness.run.store import Store
from harness.world.seeding import derive_seed
from harness.training.runtime import RuntimeSettings
from harness.training.trainer import train_ensemble

EXECUTORS = ("local", "process", "dask")
SEED_PURPOSES = ("patterns", "label-direction", "train-tasks", "ood-coefficients", "odi", "init", "train-data")


def plan_groups(units: list[Unit], max_ensemble: int = 64) -> list[list[Unit]]:
    """Units of equal tensor shape and eval plan, in chunks of at most max_ensemble."""
    if max_ensemble < 1:
        raise ValueError(f"max_ensemble must be >= 1, got {max_ensemble}")
    by_key: dict[str, list[Unit]] = defaultdict(list)
    for u in units:
        by_key[u.group_key()].append(u)
    groups = []
    for key in sorted(by_key):
        g = by_key[key]
        groups += [g[i : i + max_ensemble] for i in range(0, len(g), max_ensemble)]
    return groups


def run_group(units: list[Unit], device: str = "cpu") -> list[Record]:
    """Train one ensemble and return one full record per unit (pure function of the units)."""
    trained = train_ensemble([u.run for u in units], device)
    t1 = time.perf_counter()
    meas = measure_ensemble(trained.model, trained.worlds, units[0].eval_points, units[0].eval, device)
    timing = Timing(trained.seconds, time.perf_counter() - t1, len(units), trained.compiled)
    prov = provenance(device)
    return [Record(
        key=u.key, identity=u.identity, fingerprint=u.fingerprint, device_kind=u.device_kind, claim=u.claim_id,
        train_point=u.train_point, replicate=u.replicate, seed=u.run.seed,
        seeds={p: derive_seed(u.run.seed, p) for p in SEED_PURPOSES}, config=u.run, eval_points=u.eval_points,
        eval=u.eval, history=trained.histories[e], failed=bool(trained.failed[e]), failed_at=trained.failed_at[e],
        measurements=meas[e].measurements, probes=meas[e].probes, provenance=prov, timing=timing,
    ) for e, u in enumerate(units)]


def find_record(store: Store, unit: Unit, reuse_stale: bool = False) -> Record | None:
    """The unit's stored record; with `reuse_stale`, else the newest usable one of the same identity
    (same unit, device kind and schema) written by other code."""
    rec = store.read(unit.claim_id, unit.key, Record.from_json)
    if rec is not None or not reuse_stale:
        return rec
    stale = [p for p in store.paths(unit.claim_id, f"{unit.identity}-*") if p.stem != unit.key]
    for p in sorted(stale, key=lambda p: p.stat().st_mtime, reverse=True):
        rec = store.read_path(p, Record.from_json)
        if rec is not None and rec.identity == unit.identity:
            return rec
    return None


class Executor:
    """Runs groups and yields (group, records or the exception that ended it)."""

    name = "local"

    def __init__(self, jobs: int = 1, device: str = "cpu", address: str | None = None):
        self.jobs, self.device, self.address = max(1, jobs), device, address

    def map_groups(self, groups: list[list[Unit]]) -> Iterator[tuple[list[Unit], list[Record] | BaseException]]:
        for g in groups:
            try:
                yield g, run_group(g, self.device)
            except Exception as exc:  # a crashed group is reported, the others go on
                yield g, exc

    def close(self) -> None:
        pass


def _threads_per_worker(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // jobs)


class ProcessExecutor(Executor):
    """A local process pool; on CUDA its workers are spawned, not forked (a fork after CUDA is initialised is broken)."""

    name = "process"

    def map_groups(self, groups):
        settings = RuntimeSettings.from_env(threads=_threads_per_worker(self.jobs))
        ctx = multiprocessing.get_context("spawn") if device_kind(self.device) == "cuda" else None
        with ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=settings.apply, initargs=(self.device,)) as pool:
            futs = {pool.submit(run_group, g, self.device): g for g in groups}
            for f in as_completed(futs):
                exc = f.exception()
                yield futs[f], (exc if exc is not None else f.result())


def run_group_on_worker(units: list[Unit], device: str = "cpu") -> tuple[list[Record], str]:
    """run_group on a Dask worker, with the address of the worker that ran it. The units' keys were made on
    the client: a worker whose code that trains and measures differs (another fingerprint) refuses them."""
    mine = code_fingerprint()
    theirs = sorted({u.fingerprint for u in units} - {mine})
    if theirs:
        raise RuntimeError(f"this worker's code (fingerprint {mine}) differs from the client's ({', '.join(theirs)}): "
                           "install the client's commit on every worker")
    from distributed import get_worker

    return run_group(units, device), get_worker().address


class DaskExecutor(Executor):
    """Dask distributed: a local cluster on 127.0.0.1 unless a scheduler address is given.

    Local: `jobs` single-threaded worker processes sharing the cores; with device "cuda" one worker per
    visible GPU, each pinned to it (`dask_plugin.worker_envs`). Remote: each worker uses the device its
    own environment exposes, and its own cores (the worker plugin). `ran_on` maps each finished unit's
    key to the address of the worker that trained it.
    """

    name = "dask"

    def __init__(self, jobs: int = 1, device: str = "cpu", address: str | None = None):
        super().__init__(jobs, device, address)
        try:
            from distributed import Client
        except ImportError:
            raise ValueError("executor 'dask' needs the dask extra: pip install 'icl-claimcheck[dask]'") from None
        from harness.run.dask_plugin import RuntimePlugin, local_cluster, usable_cores, visible_gpus, worker_envs

        settings = RuntimeSettings.from_env()
        self.ran_on: dict[str, str] = {}
        if address:
            self.cluster = None
            self.client = Client(address)
        else:
            gpus = visible_gpus(_cuda_count()) if device == "cuda" else []
            self.cluster = local_cluster(worker_envs(device, self.jobs, usable_cores(), gpus, settings.threads))
            self.client = Client(self.cluster)
        self.client.register_plugin(RuntimePlugin(settings.with_threads(None), device))

    def map_groups(self, groups):
        from distributed import as_completed as das_completed

        futs = {self.client.submit(run_group_on_worker, g, self.device, pure=False): i for i, g in enumerate(groups)}
        for f in das_completed(list(futs)):
            g = groups[futs[f]]
            if f.status == "error":
                yield g, f.exception()
            else:
                records, worker = f.result()
                self.ran_on.update((u.key, worker) for u in g)
                yield g, records

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count()


def make_executor(name: str, jobs: int = 1, device: str = "cpu", address: str | None = None) -> Executor:
    if name not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
    return {"local": Executor, "process": ProcessExecutor, "dask": DaskExecutor}[name](jobs, device, address)


def execute(units: list[Unit], store: Store, executor: Executor, max_ensemble: int = 64,
            progress: bool = True, log: Callable[[str], None] | None = None, reuse_stale: bool = False) -> dict[str, int]:
    """Run every unit without a usable stored record; returns counts {done, skipped, crashed, stale}
    (stale: records of other code reused under `reuse_stale`, counted in skipped too)."""
    log = log or (lambda s: print(s, file=sys.stderr))
    kind = device_kind(executor.device)
    wrong = sorted({u.device_kind for u in units} - {kind})
    if wrong:
        raise ValueError(f"units were keyed for device kind {', '.join(wrong)} but the executor runs on {kind}: expand(claim, device)")
    found = {id(u): find_record(store, u, reuse_stale) for u in units}
    pending = [u for u in units if found[id(u)] is None]
    stale = sum(r is not None and r.key != u.key for u, r in ((u, found[id(u)]) for u in units))
    counts = {"done": 0, "skipped": len(units) - len(pending), "crashed": 0, "stale": stale}
    if not pending:
        return counts
    groups = plan_groups(pending, max_ensemble)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pending), unit="model", desc="training", file=sys.stderr, dynamic_ncols=True)
    try:
        for g, result in executor.map_groups(groups):
            if isinstance(result, BaseException):
                counts["crashed"] += len(g)
                log(f"error: {g[0].claim_id}: a group of {len(g)} runs crashed: {type(result).__name__}: {result}")
            else:
                for rec in result:
                    store.write(rec.claim, rec)
                counts["done"] += len(g)
            if bar is not None:
                bar.update(len(g))
    finally:
        if bar is not None:
            bar.close()
    return counts
