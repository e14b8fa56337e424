"""Process-wide runtime settings, set once by each entry point rather than inside train_ensemble.

Deterministic algorithms, glibc's allocator thresholds, torch's thread count and
torch.compile change how a result is computed, never what: training gives the
same numbers with or without them (on a CPU). They are global to a process, so
the entry points apply them: the CLI (`run`, `fuzz`), the pytest plugin, the
process executor's worker initializer and the Dask worker plugin. Everything is
read from the environment when `from_env()` is called, not at import.

Environment: ICLCHECK_COMPILE=1 (torch.compile the hot path), ICLCHECK_MALLOC_TUNE=0
(leave malloc alone), ICLCHECK_THREADS=N (torch threads; unset: torch's default).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch

from harness.training.allocator import ENV as MALLOC_ENV
from harness.training.allocator import keep_freed_memory
from harness.world.seeding import make_deterministic

# "1": torch.compile the prompt builder and the factored loss (opt-in, see compile_enabled)
COMPILE_ENV = "ICLCHECK_COMPILE"
THREADS_ENV = "ICLCHECK_THREADS"


def compile_enabled(flag: bool | None = None) -> bool:
    """Whether training uses torch.compile: `flag` if given, else the ICLCHECK_COMPILE environment
    variable.

    Opt-in: each new tensor shape costs a compilation (~10-25 s on 2 CPU cores), which pays for long
    runs of few shapes (the benchmarks, nightly grids) but not for a quick suite of many small ones.
    The compiled path computes the same function (tested against the eager one to float tolerance);
    an environment variable rather than a config field, because it changes how, not what, is
    computed and reaches every executor's workers."""
    if flag is not None:
        return flag
    return os.environ.get(COMPILE_ENV, "").strip() not in ("", "0")


@dataclass(frozen=True)
class RuntimeSettings:
    """What an entry point sets for its process (and hands to its workers)."""

    # torch.use_deterministic_algorithms on CPU (see seeding.make_deterministic)
    deterministic: bool = True
    # keep freed memory in the process (allocator.keep_freed_memory; glibc only)
    tune_malloc: bool = True
    threads: int | None = None  # torch's intra-op threads; None leaves torch's default
    compile: bool = False  # torch.compile the hot path (compile_enabled)

    @classmethod
    def from_env(cls, **overrides: object) -> RuntimeSettings:
        """The settings the environment asks for now; keyword arguments override single fields."""
        threads = os.environ.get(THREADS_ENV, "").strip()
        s = cls(
            tune_malloc=os.environ.get(MALLOC_ENV, "1").strip() != "0",
            threads=int(threads) if threads else None,
            compile=compile_enabled(),
        )
        return dataclasses.replace(s, **overrides) if overrides else s

    def with_threads(self, threads: int | None) -> RuntimeSettings:
        """The same settings with another thread count (a worker's share of the cores)."""
        return dataclasses.replace(self, threads=threads)

    def apply(self, device: torch.device | str = "cpu") -> None:
        """Set them for this process. The compile choice goes into the environment, where
        train_ensemble and child processes read it."""
        if self.deterministic:
            make_deterministic(device)
        if self.tune_malloc and torch.device(device).type == "cpu":
            keep_freed_memory()
        if self.threads:
            torch.set_num_threads(max(1, self.threads))
        os.environ[COMPILE_ENV] = "1" if self.compile else "0"
