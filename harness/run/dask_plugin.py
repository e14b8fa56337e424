"""The Dask worker setup: a WorkerPlugin that applies the run's RuntimeSettings on every worker.

Registered on the client by DaskExecutor, so workers that join later get it too.
The thread count is the worker's share of its machine: given by the executor for
a LocalCluster it started (the cores over its workers), else the worker's own
cores over its task threads (nthreads). torch threads created after setup (the
worker's task threads) take that count. Imported only where distributed is installed.
"""

from __future__ import annotations

import os

from distributed import Worker, WorkerPlugin

from harness.training.runtime import RuntimeSettings


class RuntimePlugin(WorkerPlugin):
    """Applies `settings` (with a thread count per worker) when a worker starts or the plugin is registered."""

    name = "iclcheck-runtime"

    def __init__(self, settings: RuntimeSettings, device: str = "cpu"):
        self.settings, self.device = settings, device

    def setup(self, worker: Worker) -> None:
        threads = self.settings.threads or max(1, (os.cpu_count() or 1) // max(1, worker.state.nthreads))
        self.settings.with_threads(threads).apply(self.device)
