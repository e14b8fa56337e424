"""Pre-flight checks of a run's options, before any training.

A run that trains for an hour and then finds it cannot write its report, or that every group fails
on `--device gpu`, loses the hour: everything about the options that can be checked up front is
checked here, and a problem is one `UsageError` line (exit 2). Messages name the command-line flag;
the pytest plugin rewrites it to its `--iclcheck-` spelling."""

from __future__ import annotations

import os
import re
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from harness.session.errors import UsageError
from harness.session.options import RunOptions

DEVICE = re.compile(r"cpu|cuda(:[0-9]+)?")
ADDRESS_TIMEOUT = 3.0  # seconds to wait for a Dask scheduler to accept a connection


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


def check_run_options(a: RunOptions) -> None:
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
    results = a.results
    check_writable_dir(results, "--results")
    check_writable_dir(results / "store", "--results")
    check_writable_dir(a.out if a.out else results / "runs", "--out" if a.out else "--results")
