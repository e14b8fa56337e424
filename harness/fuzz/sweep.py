"""The robustness sweep: one assumption bent at a time from the anchor, over replicates that share
seeds.

The anchor is the paper's orthogonal world at S1 = 2 (assumptions.S1_REGIME), where both claims
hold. Replicate r uses the same seed at every grid point (paired), so crossings can be read per
replicate (harness.fuzz.crossings). Every trained configuration is recorded (source "sweep")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.fuzz.outcomes import Outcome, measure
from harness.fuzz.profiles import ANCHOR, DEFAULT_ROOT, Axis, FuzzProfile
from harness.fuzz.records import write_record
from harness.world.config import DataConfig, RunConfig
from harness.world.seeding import derive_seed


@dataclass
class SweepPoint:
    """One trained replicate at one grid value of one axis."""

    axis: str
    value: float
    replicate: int
    outcome: Outcome


def replicate_seed(r: int) -> int:
    return derive_seed("fuzz-sweep", r)


def sweep_runs(
    profile: FuzzProfile, anchor: DataConfig = ANCHOR
) -> list[tuple[Axis, float, int, RunConfig]]:
    """(axis, value, replicate, run) for every grid point and replicate of the profile's axes."""
    out = []
    for ax in profile.axes:
        for v in ax.values:
            data = ax.data(v, anchor)
            for r in range(profile.replicates):
                out.append((ax, v, r, profile.run(data, replicate_seed(r))))
    return out


def run_sweep(
    profile: FuzzProfile,
    root: Path | str | None = DEFAULT_ROOT,
    *,
    anchor: DataConfig = ANCHOR,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> list[SweepPoint]:
    """Train and test the whole sweep (batched), recording each configuration under ROOT/records/
    unless root is None."""
    plan = sweep_runs(profile, anchor)
    outs = measure(
        [p[3] for p in plan],
        n_test=profile.n_test,
        eps=profile.eps,
        max_members=profile.max_members,
        device=device,
        progress=progress,
    )
    points = []
    for (ax, v, r, _), o in zip(plan, outs):
        o.meta = {"axis": ax.name, "value": v, "replicate": r}
        points.append(SweepPoint(ax.name, v, r, o))
        if root is not None:
            write_record(o.record("sweep", profile.name), root)
    return points
