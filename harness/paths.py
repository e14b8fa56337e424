"""Where the harness reads claim files and writes results by default.

Relative to the working directory (`claims/`, `results/`), never to the installed
package: under tox or `pip install` the package lives in site-packages, and a
store, report or fuzz database written beside it would be hidden from the user.
`ICLCHECK_RESULTS` moves the results folder.
"""

from __future__ import annotations

import os
from pathlib import Path

RESULTS_ENV = "ICLCHECK_RESULTS"


def results_root() -> Path:
    """The results folder: $ICLCHECK_RESULTS, else ./results."""
    return Path(os.environ.get(RESULTS_ENV) or "results")


def claims_dir() -> Path:
    """The default claim folder: ./claims."""
    return Path("claims")
