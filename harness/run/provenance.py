"""What produced a result: package versions, git commit, device, host."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

from harness import __version__
from harness.claims.record import Provenance

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _git_commit_in(folder: Path) -> str | None:
    """HEAD of the git checkout holding `folder`, or None; '+dirty' when tracked files other than
    the top-level results/ changed (a run that rewrites a committed reference report has not changed
    the code)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ":/",
                ":(top,exclude)results",
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """Commit of the checkout being run: the working directory's (where tox and the CLI run, and
    where the claim files are read), else the one holding the package's source, else 'unknown'."""
    return _git_commit_in(Path.cwd()) or _git_commit_in(PACKAGE_DIR) or "unknown"


def versions() -> dict[str, str]:
    import numpy
    import scipy

    return {
        "harness": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
    }


def device_name(device: str | torch.device) -> str:
    d = torch.device(device)
    if d.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(d)}"
    return f"cpu:{platform.processor() or platform.machine()} x{torch.get_num_threads()} threads"


def provenance(device: str | torch.device) -> Provenance:
    return Provenance(versions(), git_commit(), device_name(device))


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform's guess: platform.processor()
    is often empty."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, object]:
    """The machine a committed reference ran on: its timings and crossings move with the CPU and
    thread count."""
    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_commit": git_commit(),
    }
