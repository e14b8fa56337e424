"""The multiverse of a run (`--multiverse`): the plan checked before anything trains, the run after
the main one, and its totals.

The multiverse file (`--multiverse-file`, else `_multiverse.toml` beside the claim files, else in
claims/) and every claim's `[multiverse]` table are validated in `plan_multiverse` (bad input:
exit 2 before training). Alternatives run with the claim's own profile; the labels never change the
exit code: a FRAGILE claim is reported, not failed."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.claims.claim import Claim
from harness.claims.multiverse import find_multiverse_file, load_alternatives
from harness.claims.multiverse_derive import Variant
from harness.core.registry import suggestion
from harness.run.execution import Executor
from harness.run.multiverse_run import plan_variants, run_multiverse
from harness.run.paths import claims_dir
from harness.run.runner import ClaimRun
from harness.session.errors import UsageError
from harness.session.options import RunOptions


@dataclass(frozen=True)
class MultiverseTotals:
    """What the multiverse of a run cost and gave, for the report header and the summary line."""

    alternatives_run: int
    alternatives_skipped: int
    models_trained: int
    models_reused: int
    seconds: float
    labels: dict[str, int]
    models_measured: int = 0  # alternatives' units measured on stored models, nothing trained

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        """The labels and the alternatives run, then what they cost (two lines: the summary keeps
        each within 100 columns)."""
        labels = ", ".join(f"{n} {lab}" for lab, n in self.labels.items())
        return (
            f"multiverse: {labels} | {self.alternatives_run} alternative runs "
            f"({self.alternatives_skipped} skipped, reasons in the report)\n"
            f"multiverse cost: {self.models_trained} models trained, {self.models_measured} "
            f"measured on stored, {self.models_reused} records reused | {self.seconds:.0f} s"
        )


def plan_multiverse(o: RunOptions, claims: list[Claim]) -> dict[str, list[Variant]] | None:
    """The variants of every claim (None without --multiverse); ClaimError / UsageError on bad
    input."""
    if not o.multiverse:
        return None
    path = o.multiverse_file or find_multiverse_file([c.path for c in claims], claims_dir())
    if path is None or not Path(path).is_file():
        raise UsageError(f"{path or 'claims/_multiverse.toml'}: --multiverse: no multiverse file")
    alts = load_alternatives(path)
    # every claim's [multiverse] table checked against the whole file
    variants = plan_variants(claims, alts)
    if not o.multiverse_only:
        return variants
    names = [x.name for x in alts]
    for n in o.multiverse_only:
        if n not in names:
            raise UsageError(
                f"--multiverse-only: unknown alternative {n!r}"
                + suggestion(n, names)
                + f" (in {path})"
            )
    return {
        cid: [v for v in vs if v.alternative.name in o.multiverse_only]
        for cid, vs in variants.items()
    }


def run_multiverse_of(
    o: RunOptions, runs: list[ClaimRun], executor: Executor, plan: dict[str, list[Variant]]
) -> tuple[dict[str, dict], MultiverseTotals]:
    """The multiverse blocks per claim, and the multiverse's totals."""
    t0 = time.perf_counter()
    blocks, alt_runs = run_multiverse(
        runs,
        plan,
        o.results,
        executor,
        o.max_ensemble,
        progress=o.progress,
        reuse_stale=o.reuse_stale,
    )
    variants = [v for vs in plan.values() for v in vs]
    # the alternatives' controls train and measure too
    alt_runs = alt_runs + [r.control for r in alt_runs if getattr(r, "control", None) is not None]
    totals = MultiverseTotals(
        alternatives_run=sum(v.claim is not None for v in variants),
        alternatives_skipped=sum(v.claim is None for v in variants),
        models_trained=sum(r.counts["done"] for r in alt_runs),
        models_reused=sum(r.counts["skipped"] for r in alt_runs),
        models_measured=sum(r.counts.get("measured", 0) for r in alt_runs),
        seconds=time.perf_counter() - t0,
        labels=dict(Counter(b["label"] for b in blocks.values())),
    )
    return blocks, totals
