"""Process-wide runtime settings: read from the environment at call time, applied by the entry
points and by every executor's workers (process pool initializer, Dask worker plugin), never needed
for the results."""

from __future__ import annotations

import os

import pytest
import torch

from harness.run import execution
from harness.run.execution import make_executor
from harness.training.runtime import COMPILE_ENV, THREADS_ENV, RuntimeSettings


def test_from_env_reads_the_environment_when_called(monkeypatch):
    monkeypatch.delenv(COMPILE_ENV, raising=False)
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.delenv("ICLCHECK_MALLOC_TUNE", raising=False)
    assert RuntimeSettings.from_env() == RuntimeSettings(
        deterministic=True, tune_malloc=True, threads=None, compile=False
    )
    monkeypatch.setenv(COMPILE_ENV, "1")
    monkeypatch.setenv(THREADS_ENV, "3")
    monkeypatch.setenv("ICLCHECK_MALLOC_TUNE", "0")
    assert RuntimeSettings.from_env() == RuntimeSettings(tune_malloc=False, threads=3, compile=True)
    assert RuntimeSettings.from_env(threads=1).threads == 1


def test_apply_sets_the_process_wide_settings(monkeypatch):
    monkeypatch.setenv(COMPILE_ENV, "0")
    threads = torch.get_num_threads()
    torch.use_deterministic_algorithms(False)  # the conftest fixture restores the flag
    try:
        RuntimeSettings(threads=threads + 1, compile=True).apply()
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.get_num_threads() == threads + 1
        assert os.environ[COMPILE_ENV] == "1"
    finally:
        torch.set_num_threads(threads)


def test_deterministic_mode_skips_the_nan_fill_and_training_is_bit_identical_without_it():
    """make_deterministic turns off torch's NaN fill of uninitialised memory (a whole extra pass
    over every new buffer); nothing reads memory it did not write, so training gives the same bits
    with the fill and without."""
    from conftest import small_run

    from harness.training.trainer import train_ensemble
    from harness.world.seeding import make_deterministic

    make_deterministic("cpu")
    assert (
        torch.are_deterministic_algorithms_enabled()
        and not torch.utils.deterministic.fill_uninitialized_memory
    )
    runs = [
        small_run(seed=s, data={"noise": 0.1 * s}, train={"steps": 12, "chunk": 5})
        for s in range(2)
    ]
    trained = []
    for fill in (True, False):
        torch.utils.deterministic.fill_uninitialized_memory = fill
        trained.append(train_ensemble(runs).model.state_dict())
    assert all(torch.equal(trained[0][k], trained[1][k]) for k in trained[0])


def _worker_settings(units, device="cpu", progress=None):
    """Stands in for run_group in a worker: what the worker's process was set to."""
    return [
        {
            "deterministic": torch.are_deterministic_algorithms_enabled(),
            "threads": torch.get_num_threads(),
            "compile": os.environ.get(COMPILE_ENV),
        }
    ]


def test_process_workers_are_initialised_with_the_settings(monkeypatch):
    monkeypatch.setenv(COMPILE_ENV, "1")
    # a forked worker looks it up here
    monkeypatch.setattr(execution, "run_group", _worker_settings)
    torch.use_deterministic_algorithms(False)
    ex = make_executor("process", jobs=1)
    ((_, (got,)),) = list(ex.map_groups([["unit"]]))
    assert got == {"deterministic": True, "threads": max(1, os.cpu_count() or 1), "compile": "1"}


@pytest.mark.slow
def test_dask_workers_get_the_settings_from_the_worker_plugin(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setenv(COMPILE_ENV, "1")
    ex = make_executor("dask", jobs=1)
    try:
        got = ex.client.submit(lambda: _worker_settings(None)[0], pure=False).result()
    finally:
        ex.close()
    assert got == {"deterministic": True, "threads": max(1, os.cpu_count() or 1), "compile": "1"}


def test_local_cluster_worker_environments():
    dp = pytest.importorskip("harness.run.dask_plugin")
    assert dp.worker_envs("cpu", 2, 16, []) == [{THREADS_ENV: "8"}] * 2
    assert dp.worker_envs("cpu", 3, 2, [], threads=2) == [{THREADS_ENV: "2"}] * 3
    assert dp.worker_envs("cuda", 1, 16, ["0", "3"]) == [
        {"CUDA_VISIBLE_DEVICES": "0", THREADS_ENV: "8"},
        {"CUDA_VISIBLE_DEVICES": "3", THREADS_ENV: "8"},
    ]
    # an explicit index: not pinned
    assert dp.worker_envs("cuda:1", 2, 4, ["0", "1"]) == [{THREADS_ENV: "2"}] * 2
    with pytest.raises(ValueError, match="no visible CUDA device"):
        dp.worker_envs("cuda", 1, 4, [])
    assert dp.visible_gpus(2, {}) == ["0", "1"]
    assert dp.visible_gpus(8, {"CUDA_VISIBLE_DEVICES": "2,5"}) == ["2", "5"]
    assert dp.visible_gpus(8, {"CUDA_VISIBLE_DEVICES": ""}) == []


def test_worker_threads_come_from_the_worker_environment_and_cores(monkeypatch):
    dp = pytest.importorskip("harness.run.dask_plugin")
    monkeypatch.setattr(dp, "usable_cores", lambda: 8)
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert dp.worker_threads(1) == 8 and dp.worker_threads(3) == 2 and dp.worker_threads(16) == 1
    monkeypatch.setenv(THREADS_ENV, "3")
    assert dp.worker_threads(1) == 3


def test_process_pool_is_spawned_on_cuda(monkeypatch):
    """A fork after CUDA is initialised is broken: the CUDA pool starts its workers with spawn."""
    seen = []

    class Pool:
        def __init__(self, max_workers, mp_context=None, **kw):
            seen.append(mp_context.get_start_method() if mp_context else None)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(execution, "ProcessPoolExecutor", Pool)
    for device in ("cuda", "cuda:1", "cpu"):
        assert list(make_executor("process", jobs=2, device=device).map_groups([])) == []
    assert seen == ["spawn", "spawn", None]


def test_a_worker_with_other_code_refuses_the_units():
    """Keys are made on the client; a Dask worker whose training code differs must not file records
    under them."""
    from harness.claims.grid import Unit
    from harness.world.config import RunConfig

    unit = Unit("c", {}, 0, RunConfig(), [{}], {"n_test": 10}, fingerprint="0123456789abcdef")
    with pytest.raises(
        RuntimeError, match="this worker's code .* differs from the client's \\(0123456789abcdef\\)"
    ):
        execution.run_group_on_worker([unit])


def _worker_view() -> dict:
    """What a Dask worker process sees: its pinned GPU and its torch threads."""
    return {"gpu": os.environ.get("CUDA_VISIBLE_DEVICES"), "threads": torch.get_num_threads()}


@pytest.mark.slow
def test_a_local_cuda_cluster_pins_one_worker_per_gpu(monkeypatch):
    """Two (pretended) GPUs: two workers whatever --jobs says, each with CUDA_VISIBLE_DEVICES naming
    its own GPU and half the cores as torch threads (no CUDA is touched: the plugin's settings only
    set threads)."""
    dp = pytest.importorskip("harness.run.dask_plugin")
    monkeypatch.setattr(execution, "_cuda_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv(THREADS_ENV, raising=False)
    ex = make_executor("dask", jobs=5, device="cuda")
    try:
        views = ex.client.run(_worker_view)
    finally:
        ex.close()
    assert sorted(v["gpu"] for v in views.values()) == ["0", "1"], views
    assert all(v["threads"] == max(1, dp.usable_cores() // 2) for v in views.values()), views
