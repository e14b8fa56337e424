"""Pre-flight checks of a run's options, before any training, and the exit codes of the command
line.

A run that trains for an hour and then finds it cannot write its report, or that every group fails
on `--device gpu`, loses the hour: everything that can be checked up front is checked here, and a
problem is one line and exit 2. An error that is not bad input is an internal error: one line to
stderr, the traceback in a log file, exit 3, so CI can tell a crash from a refutation."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import socket
import tempfile
import traceback
from pathlib import Path
from urllib.parse import urlsplit

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_CODES = f"""exit codes:
  {EXIT_OK}  every verdict as expected
  {EXIT_FAILED}  an unexpected REFUTED or ERROR verdict (or INCONCLUSIVE with --strict)
  {EXIT_BAD_INPUT}  bad input: a claim file, an option, a pre-flight check (one line: FILE: KEY: what is wrong)
  {EXIT_INTERNAL}  internal error: one line names the log file holding the traceback
"""
DEVICE = re.compile(r"cpu|cuda(:[0-9]+)?")
ADDRESS_TIMEOUT = 3.0  # seconds to wait for a Dask scheduler to accept a connection


class UsageError(ValueError):
    """Bad options or an unusable environment, found before any training (exit 2)."""


class InternalError(Exception):
    """Raised from a failure after the pre-flight checks passed: not bad input (exit 3); the cause
    is the original."""


def check_device(device: str) -> None:
    """`cpu`, `cuda` or `cuda:N`, and the CUDA device exists."""
    if not DEVICE.fullmatch(device):
        raise UsageError(f"--device {device!r}: must be 'cpu', 'cuda' or 'cuda:N' (lower case)")
    if device == "cpu":
        return
    import torch

    if not torch.cuda.is_available():
        raise UsageError(f"--device {device}: CUDA is not available on this machine")
    n, idx = torch.cuda.device_count(), int(device.partition(":")[2] or 0)
    if idx >= n:
        raise UsageError(
            f"--device {device}: this machine has {n} CUDA device(s): cuda:0 to cuda:{n - 1}"
        )


def check_writable_dir(folder: Path, option: str) -> None:
    """Create `folder` if needed and write and remove a probe file in it, so a bad folder fails now,
    not after training."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {folder}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".iclcheck-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{option} {folder}: not writable ({exc.strerror or exc})") from None


def check_address(address: str, timeout: float = ADDRESS_TIMEOUT) -> None:
    """A Dask scheduler address (tcp://HOST:PORT or HOST:PORT) accepts a TCP connection within
    `timeout` seconds."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None:
        raise UsageError(f"--address {address!r}: must be tcp://HOST:PORT or HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc))
        raise UsageError(
            f"--address {address}: no Dask scheduler reachable at {host}:{port} within {timeout:g} "
            f"s ({reason})"
        ) from None


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


def check_run_options(a: argparse.Namespace) -> None:
    """Everything about the options that can fail, checked before any training (UsageError: exit
    2)."""
    check_device(a.device)
    for opt, v in (("--jobs", a.jobs), ("--max-ensemble", a.max_ensemble)):
        if v < 1:
            raise UsageError(f"{opt} {v}: must be >= 1")
    if a.address and a.executor != "dask":
        raise UsageError(f"--address {a.address}: only --executor dask uses a scheduler address")
    if a.address:
        check_address(a.address)
    results = Path(a.results)
    check_writable_dir(results, "--results")
    check_writable_dir(results / "store", "--results")
    check_writable_dir(
        Path(a.out) if a.out else results / "runs", "--out" if a.out else "--results"
    )
