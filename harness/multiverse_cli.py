"""`iclcheck run --multiverse` (and `nightly --multiverse`): the options, the plan checked before
anything trains, and the multiverse run after the main one.

The multiverse file (`--multiverse-file`, else `_multiverse.toml` beside the claim files, else in
claims/) and every claim's `[multiverse]` table are validated in `prepare` (bad input: exit 2 before
training). Alternatives run with the claim's own profile (quick or nightly): the quick multiverse is
a few times the quick suite; the full nightly multiverse (every claim x every alternative at nightly
size) is for bigger machines or a Dask cluster (`--executor dask`). The labels never change the exit
code: a FRAGILE claim is reported, not failed."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

from harness.claims.multiverse import find_multiverse_file, load_alternatives
from harness.claims.multiverse_derive import Variant
from harness.core.registry import suggestion
from harness.preflight import UsageError
from harness.run.multiverse_run import plan_variants, run_multiverse
from harness.run.paths import claims_dir


def add_options(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--multiverse",
        action="store_true",
        help="also judge every claim under each applicable alternative of the multiverse file, one at a time "
        "(ROBUST / FRAGILE / PARTIAL per claim; alternatives run at the claim's own profile)",
    )
    s.add_argument(
        "--multiverse-file",
        default=None,
        help="the multiverse file (default: _multiverse.toml beside the claim files, else in claims/)",
    )
    s.add_argument(
        "--multiverse-only",
        default=None,
        metavar="NAME[,NAME...]",
        help="run only these alternatives (the size knob: e.g. beta-3,steps-3x on a small machine)",
    )


def prepare(a: argparse.Namespace, claims: list) -> dict[str, list[Variant]] | None:
    """The variants of every claim (None without --multiverse); ClaimError / UsageError on bad
    input."""
    if not getattr(a, "multiverse", False):
        return None
    path = (
        Path(a.multiverse_file)
        if a.multiverse_file
        else find_multiverse_file([c.path for c in claims], claims_dir())
    )
    if path is None or not path.is_file():
        raise UsageError(f"{path or 'claims/_multiverse.toml'}: --multiverse: no multiverse file")
    alts = load_alternatives(path)
    if a.multiverse_only:
        wanted = [n.strip() for n in a.multiverse_only.split(",") if n.strip()]
        names = [x.name for x in alts]
        for n in wanted:
            if n not in names:
                raise UsageError(
                    f"--multiverse-only: unknown alternative {n!r}"
                    + suggestion(n, names)
                    + f" (in {path})"
                )
        # every claim's [multiverse] table checked against the whole file
        narrowed = plan_variants(claims, alts)
        return {
            cid: [v for v in vs if v.alternative.name in wanted] for cid, vs in narrowed.items()
        }
    return plan_variants(claims, alts)


def run(
    a: argparse.Namespace, runs: list, executor: Any, plan: dict[str, list[Variant]]
) -> tuple[dict[str, dict], dict[str, Any]]:
    """The multiverse blocks per claim, and the run's multiverse totals for the report header."""
    t0 = time.perf_counter()
    blocks, alt_runs = run_multiverse(
        runs,
        plan,
        a.results,
        executor,
        a.max_ensemble,
        progress=not a.no_progress,
        reuse_stale=a.reuse_stale,
    )
    variants = [v for vs in plan.values() for v in vs]
    totals = {
        "alternatives_run": sum(v.claim is not None for v in variants),
        "alternatives_skipped": sum(v.claim is None for v in variants),
        "models_trained": sum(r.counts["done"] for r in alt_runs),
        "models_reused": sum(r.counts["skipped"] for r in alt_runs),
        "seconds": time.perf_counter() - t0,
        "labels": dict(Counter(b["label"] for b in blocks.values())),
    }
    return blocks, totals


def summary_line(totals: dict[str, Any]) -> str:
    labels = ", ".join(f"{n} {lab}" for lab, n in totals["labels"].items())
    return (
        f"multiverse: {labels} | {totals['alternatives_run']} alternative runs "
        f"({totals['alternatives_skipped']} skipped, "
        f"with reasons in the report) | {totals['models_trained']} models trained, "
        f"{totals['models_reused']} reused | "
        f"{totals['seconds']:.0f} s"
    )
