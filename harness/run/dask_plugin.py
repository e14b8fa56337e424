"""The Dask side of the dask executor: the worker plugin that applies the run's RuntimeSettings on
every worker, and the local cluster the executor starts when no scheduler address is given.

Registered on the client by DaskExecutor, so workers that join later get it too. Torch's thread
count is process-wide and is worked out on each worker, from its own environment and cores:
ICLCHECK_THREADS in the worker's environment, else its usable cores over its task threads
(nthreads). A local cluster sets ICLCHECK_THREADS per worker (the machine's cores over the workers)
and, for `--device cuda`, starts one worker per visible GPU with CUDA_VISIBLE_DEVICES naming that
GPU alone (dask-cuda's pattern), so that "cuda" on a worker is its own GPU. Imported only where
distributed is installed."""

from __future__ import annotations

import os

from distributed import Nanny, Scheduler, SpecCluster, Worker, WorkerPlugin

from harness.training.runtime import THREADS_ENV, RuntimeSettings


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_threads(nthreads: int) -> int:
    """Torch threads for this worker process: $ICLCHECK_THREADS, else its cores over its task
    threads."""
    explicit = RuntimeSettings.from_env().threads
    return max(1, explicit) if explicit else max(1, usable_cores() // max(1, nthreads))


class RuntimePlugin(WorkerPlugin):
    """Applies `settings` (determinism, malloc tuning, compile) with the worker's own thread count
    when a worker starts or the plugin is registered. Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for
    its workers; the tuning here (mallopt) comes after it and wins, unless ICLCHECK_MALLOC_TUNE=0.
    """

    name = "iclcheck-runtime"

    def __init__(self, settings: RuntimeSettings, device: str = "cpu"):
        self.settings, self.device = settings, device

    def setup(self, worker: Worker) -> None:
        self.settings.with_threads(worker_threads(worker.state.nthreads)).apply(self.device)


def visible_gpus(count: int, env: dict[str, str] | None = None) -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES entries: that variable's list when set
    (an empty one: none), else 0 .. count - 1."""
    env = os.environ if env is None else env
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d.strip() for d in listed.split(",") if d.strip() and d.strip() != "-1"]
    return [str(i) for i in range(count)]


def worker_envs(
    device: str, jobs: int, cores: int, gpus: list[str], threads: int | None = None
) -> list[dict[str, str]]:
    """The environment of each worker of a local cluster: on "cuda" (no index) one worker per GPU,
    pinned to it; otherwise `jobs` workers. Each gets `threads` torch threads, default its share of
    the cores."""
    if device == "cuda":
        if not gpus:
            raise ValueError("--device cuda: no visible CUDA device for the Dask workers")
        share = threads or max(1, cores // len(gpus))
        return [{"CUDA_VISIBLE_DEVICES": g, THREADS_ENV: str(share)} for g in gpus]
    share = threads or max(1, cores // max(1, jobs))
    return [{THREADS_ENV: str(share)} for _ in range(max(1, jobs))]


def local_cluster(envs: list[dict[str, str]]) -> SpecCluster:
    """A cluster on 127.0.0.1: one single-threaded worker process (under a nanny) per
    environment."""
    quiet = 40  # logging.ERROR
    scheduler = {
        "cls": Scheduler,
        "options": {"host": "127.0.0.1", "dashboard": False, "dashboard_address": None},
    }
    workers = {
        f"iclcheck-{i}": {
            "cls": Nanny,
            "options": {"nthreads": 1, "host": "127.0.0.1", "env": env, "silence_logs": quiet},
        }
        for i, env in enumerate(envs)
    }
    return SpecCluster(workers=workers, scheduler=scheduler, silence_logs=quiet, name="iclcheck")
