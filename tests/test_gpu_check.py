"""scripts/gpu_check.sh, the one-command GPU check: without a CUDA device it stops at once, exit 2,
with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_check.sh"


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="this machine has a CUDA device: run the script itself"
)
def test_gpu_check_fails_clearly_without_cuda(tmp_path):
    r = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHON": sys.executable},  # this test's interpreter, not PATH's
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert (
        "gpu_check: no CUDA device" in r.stderr and "torch.cuda.is_available() = False" in r.stderr
    ), r.stderr
    assert not (tmp_path / "out" / "summary.txt").exists()  # nothing ran
