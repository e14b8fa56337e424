"""torch.compile for training: opt-in through the ICLCHECK_COMPILE environment variable, read at call time."""

from __future__ import annotations

import os

COMPILE_ENV = "ICLCHECK_COMPILE"  # "1": torch.compile the prompt builder and the factored loss (opt-in, see compile_enabled)


def compile_enabled(flag: bool | None = None) -> bool:
    """Whether training uses torch.compile: `flag` if given, else the ICLCHECK_COMPILE environment variable.

    Opt-in: each new tensor shape costs a compilation (~10-25 s on 2 CPU cores), which pays for long runs of
    few shapes (the benchmarks, nightly grids) but not for a quick suite of many small ones. The compiled path
    computes the same function (tested against the eager one to float tolerance); an environment variable
    rather than a config field, because it changes how, not what, is computed and reaches every executor's
    workers.
    """
    if flag is not None:
        return flag
    return os.environ.get(COMPILE_ENV, "").strip() not in ("", "0")
