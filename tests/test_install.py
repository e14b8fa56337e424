"""`pip install .` gives a working command: in a fresh virtual environment with only torch and the
package (no test extras, no dask), `iclcheck --help`, `--version` and every subcommand's `--help`
exit 0. Slow (it builds the package and installs its dependencies): run in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_plain_pip_install_gives_a_working_command(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    torch_pin = f"torch=={torch.__version__.split('+')[0]}"  # the CPU build this machine has
    subprocess.run([*pip, torch_pin], check=True, cwd=tmp_path)
    subprocess.run([*pip, str(ROOT)], check=True, cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    iclcheck = str(bin_dir / "iclcheck")
    for argv in (["--help"], ["--version"], *([c, "--help"] for c in COMMANDS)):
        r = subprocess.run([iclcheck, *argv], capture_output=True, text=True, cwd=tmp_path, env=env)
        assert r.returncode == 0, (argv, r.stderr[-2000:])
        assert r.stdout.strip(), argv
