"""Two probes beside the sweep: more training steps where an axis breaks, and every shape of
uniformly covering T_tr.

- The budget probe retrains the breaking part of each axis with BUDGET_FACTOR x the steps (same
  seeds), to tell a
  break that more iterations remove (the theorems promise their bounds after enough iterations) from
  one that stays.
- The task-graph probe trains uniformly covering T_tr of every cyclic-shift shape at two alphas: is
  Condition 3.2
  (uniform coverage) enough?
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.fuzz.axis_summary import summarise_axis
from harness.fuzz.outcomes import Outcome, measure
from harness.fuzz.profiles import ANCHOR, BUDGET_FACTOR, DEFAULT_ROOT, FuzzProfile
from harness.fuzz.records import write_record
from harness.fuzz.sweep import SweepPoint, replicate_seed
from harness.world.config import DataConfig
from harness.world.seeding import derive_seed

# cyclic shift sets of T_tr (M1 = 6)
TASK_GRAPH_SETS = ((2,), (3,), (1,), (2, 4), (1, 5), (1, 2, 4), (1, 3), (1, 3, 5))
TASK_GRAPH_ALPHAS = (0.8, 0.95)


def run_budget_probe(
    profile: FuzzProfile,
    points: list[SweepPoint],
    root: Path | str | None = DEFAULT_ROOT,
    *,
    anchor: DataConfig = ANCHOR,
    device: str = "cpu",
    replicates: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[SweepPoint]:
    """Retrain the breaking part of every axis with BUDGET_FACTOR x the steps (same seeds, paired).

    For each axis with a pooled-REFUTED grid point (either claim): the grid from the point before
    the first REFUTED one to the end, for the first `replicates` replicates (default min(3,
    profile.replicates)). Returns sweep points whose outcomes carry the longer training."""
    long = dataclasses.replace(profile, steps=profile.steps * BUDGET_FACTOR)
    R = replicates or min(3, profile.replicates)
    plan = []
    for ax in profile.axes:
        if not any(p.axis == ax.name for p in points):
            continue
        s = summarise_axis(ax, points, profile.eps)
        first = [s.values.index(bf) for bf in s.breaks_from.values() if bf is not None]
        if not first:
            continue
        for v in s.values[max(0, min(first) - 1) :]:
            for r in range(R):
                plan.append((ax, v, r, long.run(ax.data(v, anchor), replicate_seed(r))))
    if not plan:
        return []
    outs = measure(
        [p[3] for p in plan],
        n_test=profile.n_test,
        eps=profile.eps,
        max_members=profile.max_members,
        device=device,
        progress=progress,
    )
    res = []
    for (ax, v, r, _), o in zip(plan, outs):
        o.meta = {"axis": ax.name, "value": v, "replicate": r, "budget_factor": BUDGET_FACTOR}
        res.append(SweepPoint(ax.name, v, r, o))
        if root is not None:
            write_record(o.record("sweep-budget", profile.name), root)
    return res


def task_graph_seeds(shifts: tuple[int, ...], n: int, anchor: DataConfig = ANCHOR) -> list[int]:
    """The first n seeds derive_seed("fuzz-taskgraph", i) whose uniform T_tr is exactly these cyclic
    shifts."""
    from harness.world.tasks import training_tasks

    cfg = dataclasses.replace(anchor, n_train_tasks=anchor.M1 * len(shifts), coverage="uniform")
    out = []
    for i in range(100000):
        seed = derive_seed("fuzz-taskgraph", i)
        t = training_tasks(cfg, seed)
        if {int((b - a) % anchor.M1) for a, b in t.tolist()} == set(shifts):
            out.append(seed)
            if len(out) == n:
                return out
    raise ValueError(f"no seed gives the shift set {shifts}")


@dataclass
class TaskGraphRow:
    """One T_tr shape at one alpha: its replicates' outcomes."""

    shifts: tuple[int, ...]
    n_train_tasks: int
    shortcut: float
    alpha: float
    outcomes: list[Outcome]


def run_task_graph_probe(
    profile: FuzzProfile,
    root: Path | str | None = DEFAULT_ROOT,
    *,
    anchor: DataConfig = ANCHOR,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> list[TaskGraphRow]:
    """Uniformly covering T_tr of every shape (cyclic shift sets) at two alphas: is Condition 3.2
    enough?"""
    if anchor.M1 != 6:
        return []
    plan = []
    for S in TASK_GRAPH_SETS:
        seeds = task_graph_seeds(S, profile.replicates, anchor)
        for a in TASK_GRAPH_ALPHAS:
            for seed in seeds:
                plan.append(
                    (
                        S,
                        a,
                        profile.run(
                            dataclasses.replace(anchor, n_train_tasks=anchor.M1 * len(S), alpha=a),
                            seed,
                        ),
                    )
                )
    outs = measure(
        [p[2] for p in plan],
        n_test=profile.n_test,
        eps=profile.eps,
        max_members=profile.max_members,
        device=device,
        progress=progress,
    )
    rows: dict[tuple, TaskGraphRow] = {}
    for (S, a, run), o in zip(plan, outs):
        o.meta = {"shifts": list(S), "alpha": a}
        if root is not None:
            write_record(o.record("taskgraph", profile.name), root)
        key = (S, a)
        if key not in rows:
            rows[key] = TaskGraphRow(
                S, run.data.n_train_tasks, o.report["regime_task_shortcut"].value, a, []
            )
        rows[key].outcomes.append(o)
    return list(rows.values())
