"""How a run ends: the exit codes, the two errors that are not a verdict, and the error log.

Bad input (a claim file, an option, a pre-flight check) is a `UsageError` or a `ClaimError`, one
line and exit 2, always before any training. Anything that fails after the pre-flight checks passed
is an `InternalError`: one line on stderr, the traceback in a log file, exit 3, so CI can tell a
crash from a refutation. The command line maps these to its exit codes; the pytest plugin
to pytest usage errors and test failures."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import traceback
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_CODES = f"""exit codes:
  {EXIT_OK}  every verdict as expected
  {EXIT_FAILED}  an unexpected REFUTED or ERROR verdict (or INCONCLUSIVE with --strict)
  {EXIT_BAD_INPUT}  bad input: a claim file, an option, a pre-flight check
     (one line: FILE: KEY: what is wrong), always before any training
  {EXIT_INTERNAL}  internal error: one line names the log file holding the traceback
"""


class UsageError(ValueError):
    """Bad options or an unusable environment, found before any training (exit 2)."""


class InternalError(Exception):
    """Raised from a failure after the pre-flight checks passed: not bad input (exit 3); the cause
    is the original."""


def write_error_log(exc: BaseException, results: Path | None) -> Path:
    """The traceback of `exc` in RESULTS/logs/<time>-<pid>-error.log, or in a temporary file if that
    is not writable."""
    text = "".join(traceback.format_exception(exc))
    name = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}-error.log"
    if results is not None:
        try:
            log = Path(results) / "logs" / name
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(text)
            return log
        except OSError:
            pass
    fd, tmp = tempfile.mkstemp(prefix="iclcheck-", suffix="-error.log")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return Path(tmp)


def one_line(exc: BaseException) -> str:
    """The exception as one line: its type and its message with newlines folded."""
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
