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
is reused instead of retrained, and counted as such. Records are filed under
one namespace, `units/`, not per claim: a unit (and its model) may serve
several claims (harness.run.plan). Groups run longest first (by expected cost),
so parallel executors finish together.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

import torch

from harness.claims.grid import Unit, device_kind
from harness.claims.record import Record, Timing
from harness.core.choices import EXECUTORS
from harness.core.fingerprint import code_fingerprint
from harness.core.jsonio import canonical
from harness.measure.ensemble import measure_ensemble
from harness.measure.measurement import MemberMeasures
from harness.run.provenance import provenance
from harness.run.store import Store
from harness.training.runtime import RuntimeSettings
from harness.training.trainer import TrainedEnsemble, train_ensemble
from harness.world.seeding import derive_seed

# a training step's fixed cost (Python, kernel launches), in prompts of work
STEP_OVERHEAD_PROMPTS = 64
NAMESPACE = "units"  # the store folder of claim units (results/store/units/<key>.json)
SEED_PURPOSES = (
    "patterns",
    "label-direction",
    "train-tasks",
    "ood-coefficients",
    "odi",
    "init",
    "train-data",
)


def expected_cost(group: list[Unit]) -> float:
    """A group's expected training cost, to schedule the longest first: steps x (members x batch + a
    fixed per-step overhead worth STEP_OVERHEAD_PROMPTS prompts) x the size of one prompt (context x
    (width + MLP neurons)); the overhead keeps long runs of tiny batches from looking free."""
    r = group[0].run
    prompts = len(group) * r.train.batch + STEP_OVERHEAD_PROMPTS
    return float(r.train.steps * prompts * (r.data.l_tr + 1) * (r.data.d + r.model.m))


def plan_groups(units: list[Unit], max_ensemble: int = 64) -> list[list[Unit]]:
    """Units of equal tensor shape (from any claims, with any eval plans), in chunks of at most
    max_ensemble, the most expensive first (ties in a fixed order)."""
    if max_ensemble < 1:
        raise ValueError(f"max_ensemble must be >= 1, got {max_ensemble}")
    by_key: dict[str, list[Unit]] = defaultdict(list)
    for u in units:
        by_key[u.group_key()].append(u)
    groups = []
    for key in sorted(by_key):
        g = by_key[key]
        groups += [g[i : i + max_ensemble] for i in range(0, len(g), max_ensemble)]
    return sorted(groups, key=expected_cost, reverse=True)  # stable: equal costs keep the key order


def select_members(model: torch.nn.Module, idx: list[int]) -> torch.nn.Module:
    """A copy of an ensemble holding only the members `idx` (every parameter's leading dimension is
    the member)."""
    sub = copy.deepcopy(model)
    with torch.no_grad():
        for p in sub.parameters():
            p.data = p.data[idx].clone()
    return sub


def measure_group(units: list[Unit], trained: TrainedEnsemble, device: str) -> list[MemberMeasures]:
    """Each member measured with its own unit's eval plan (members of one plan measured
    together)."""
    plans: dict[str, list[int]] = defaultdict(list)
    for e, u in enumerate(units):
        plans[u.eval_key()].append(e)
    meas: list[MemberMeasures | None] = [None] * len(units)
    for idx in plans.values():
        model = trained.model if len(idx) == len(units) else select_members(trained.model, idx)
        u = units[idx[0]]
        for e, m in zip(
            idx,
            measure_ensemble(
                model, [trained.worlds[e] for e in idx], u.eval_points, u.eval, device
            ),
        ):
            meas[e] = m
    return meas


def run_group(units: list[Unit], device: str = "cpu") -> list[Record]:
    """Train one ensemble and return one full record per unit (pure function of the units)."""
    trained = train_ensemble([u.run for u in units], device)
    t1 = time.perf_counter()
    meas = measure_group(units, trained, device)
    timing = Timing(trained.seconds, time.perf_counter() - t1, len(units), trained.compiled)
    prov = provenance(device)
    return [
        Record(
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
            history=trained.histories[e],
            failed=bool(trained.failed[e]),
            failed_at=trained.failed_at[e],
            measurements=meas[e].measurements,
            probes=meas[e].probes,
            provenance=prov,
            timing=timing,
        )
        for e, u in enumerate(units)
    ]


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
    """Runs groups and yields (group, records or the exception that ended it)."""

    def __init__(self, jobs: int = 1, device: str = "cpu", address: str | None = None):
        self.jobs, self.device, self.address = max(1, jobs), device, address

    def map_groups(
        self, groups: list[list[Unit]]
    ) -> Iterator[tuple[list[Unit], list[Record] | BaseException]]:
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
    """A local process pool; on CUDA its workers are spawned, not forked (a fork after CUDA is
    initialised is broken)."""

    def map_groups(self, groups):
        settings = RuntimeSettings.from_env(threads=_threads_per_worker(self.jobs))
        ctx = multiprocessing.get_context("spawn") if device_kind(self.device) == "cuda" else None
        with ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=ctx,
            initializer=settings.apply,
            initargs=(self.device,),
        ) as pool:
            futs = {pool.submit(run_group, g, self.device): g for g in groups}
            for f in as_completed(futs):
                exc = f.exception()
                yield futs[f], (exc if exc is not None else f.result())


def run_group_on_worker(units: list[Unit], device: str = "cpu") -> tuple[list[Record], str]:
    """run_group on a Dask worker, with the address of the worker that ran it. The units' keys were
    made on the client: a worker whose code that trains and measures differs (another fingerprint)
    refuses them."""
    mine = code_fingerprint()
    theirs = sorted({u.fingerprint for u in units} - {mine})
    if theirs:
        raise RuntimeError(
            f"this worker's code (fingerprint {mine}) differs from the client's "
            f"({', '.join(theirs)}): "
            "install the client's commit on every worker"
        )
    from distributed import get_worker

    return run_group(units, device), get_worker().address


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

    def map_groups(self, groups):
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


def make_executor(
    name: str, jobs: int = 1, device: str = "cpu", address: str | None = None
) -> Executor:
    if name not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
    return {"local": Executor, "process": ProcessExecutor, "dask": DaskExecutor}[name](
        jobs, device, address
    )


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
    """Run every unit without a usable stored record; returns counts {done, skipped, crashed, stale}
    (stale: records of other code reused under `reuse_stale`, counted in skipped too). `outcomes`,
    if given, receives each unit's key -> "done", "skipped" or "crashed"."""
    log = log or (lambda s: print(s, file=sys.stderr))
    kind = device_kind(executor.device)
    wrong = sorted({u.device_kind for u in units} - {kind})
    if wrong:
        raise ValueError(
            f"units were keyed for device kind {', '.join(wrong)} but the executor runs on {kind}: "
            "expand(claim, device)"
        )
    found = {id(u): find_record(store, u, reuse_stale) for u in units}
    pending = [u for u in units if found[id(u)] is None]
    stale = sum(
        r is not None and r.fingerprint != u.fingerprint
        for u, r in ((u, found[id(u)]) for u in units)
    )
    counts = {"done": 0, "skipped": len(units) - len(pending), "crashed": 0, "stale": stale}
    outcomes = {} if outcomes is None else outcomes
    outcomes.update({u.key: "skipped" for u in units if found[id(u)] is not None})
    if not pending:
        return counts
    groups = plan_groups(pending, max_ensemble)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(
            total=len(pending), unit="model", desc="training", file=sys.stderr, dynamic_ncols=True
        )
    try:
        for g, result in executor.map_groups(groups):
            if isinstance(result, BaseException):
                counts["crashed"] += len(g)
                outcomes.update({u.key: "crashed" for u in g})
                log(
                    f"error: {', '.join(sorted({u.claim_id for u in g}))}: a group of {len(g)} "
                    f"runs crashed: {type(result).__name__}: {result}"
                )
            else:
                for rec in result:
                    store.write(NAMESPACE, rec)
                counts["done"] += len(g)
                outcomes.update({u.key: "done" for u in g})
            if bar is not None:
                bar.update(len(g))
    finally:
        if bar is not None:
            bar.close()
    return counts
