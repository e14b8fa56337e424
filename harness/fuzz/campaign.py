"""The fuzz campaign and its batched shrinker, and the fuzz run behind `iclcheck fuzz`.

`iclcheck fuzz [--profile quick|nightly] [--out DIR | --refresh-reference]` runs the robustness
sweep (harness.fuzz.sweep) and its probes (harness.fuzz.probes), a Hypothesis campaign over
violating configurations (harness.fuzz.strategies), shrinks each clearly failing one toward the
anchor in batches, records every trained configuration under results/fuzz/records/ and writes the
report (report.md + PNG) to DIR (default results/fuzz/latest/, untracked). `--refresh-reference`
rewrites the committed report in results/reference/fuzz/ instead, with machine.json naming the
machine it ran on."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings, target
from hypothesis import seed as hypothesis_seed

from harness.core.jsonio import atomic_write_text
from harness.fuzz.outcomes import Outcome, measure
from harness.fuzz.probes import run_budget_probe, run_task_graph_probe
from harness.fuzz.profiles import ANCHOR, DEFAULT_ROOT, FuzzProfile, get_profile
from harness.fuzz.records import write_record
from harness.fuzz.report import write_report
from harness.fuzz.strategies import batches, distance, moved_knobs, violating_data
from harness.fuzz.sweep import run_sweep
from harness.run.paths import fuzz_reference_dir, fuzz_root
from harness.run.provenance import machine
from harness.training.runtime import RuntimeSettings
from harness.world.config import DataConfig, RunConfig

# ----------------------------------------------------------------------
# campaign and shrinking


def measure_and_record(
    runs: Sequence[RunConfig],
    profile: FuzzProfile,
    source: str,
    root: Path | str | None = DEFAULT_ROOT,
    meta: dict | None = None,
    progress=None,
) -> list[Outcome]:
    """outcomes.measure, then one record per configuration under ROOT/records/."""
    outs = measure(
        runs,
        n_test=profile.n_test,
        eps=profile.eps,
        max_members=profile.max_members,
        progress=progress,
    )
    for o in outs:
        o.meta = dict(meta or {})
        if root is not None:
            write_record(o.record(source, profile.name), root)
    return outs


def run_campaign(
    profile: FuzzProfile,
    root: Path | str | None = DEFAULT_ROOT,
    *,
    seed: int | None = 0,
    progress: Callable[[str], None] | None = None,
    anchor: DataConfig = ANCHOR,
) -> list[Outcome]:
    """Hypothesis draws `campaign_batches` batches of violating configurations around the anchor
    (1-2 knobs each); each batch trains as one ensemble and every configuration is recorded.
    `target` steers generation toward clear failures close to the anchor. `seed` fixes Hypothesis'
    randomness (None: random)."""
    outcomes: list[Outcome] = []
    strategy = batches(
        violating_data(anchor=anchor, steps=profile.steps), profile.campaign_batch, profile
    )

    @settings(
        max_examples=profile.campaign_batches,
        deadline=None,
        database=None,
        phases=(Phase.generate, Phase.target),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )
    @given(strategy)
    def explore(runs: list[RunConfig]) -> None:
        outs = measure_and_record(
            runs,
            profile,
            "campaign",
            root,
            meta={"batch": len(outcomes) // profile.campaign_batch},
            progress=progress,
        )
        outcomes.extend(outs)
        near = [-distance(o.run.data, anchor) for o in outs if o.broken_domains()]
        target(
            max(near) if near else -10.0,
            label="closeness of the nearest clear failure to the anchor",
        )

    if seed is not None:
        explore = hypothesis_seed(seed)(explore)
    explore()
    unique: dict[RunConfig, Outcome] = {}
    for o in outcomes:
        unique.setdefault(o.run, o)
    return list(unique.values())


def primary_domain(o: Outcome) -> str | None:
    b = o.broken_domains()
    return b[0] if b else None


def shrink_candidates(
    cfg: DataConfig,
    anchor: DataConfig = ANCHOR,
    fractions: Sequence[float] = (0.0, 0.25, 0.5, 0.75),
) -> list[DataConfig]:
    """Single-knob moves of `cfg` toward the anchor (each moved knob to each fraction of its
    departure), valid ones only."""
    out = []
    for k in moved_knobs(cfg, anchor):
        for f in fractions:
            if not k.continuous and f > 0:
                continue
            if k.continuous:
                upd = {
                    fld: float(getattr(anchor, fld))
                    + f * (float(getattr(cfg, fld)) - float(getattr(anchor, fld)))
                    for fld in k.fields
                }
            else:
                upd = {fld: getattr(anchor, fld) for fld in k.fields}
            try:
                c = dataclasses.replace(cfg, **upd).validate()
            except ValueError:
                continue
            if c != cfg:
                out.append(c)
    return list(dict.fromkeys(out))


def pick_failures(
    outcomes: Iterable[Outcome], limit: int, anchor: DataConfig = ANCHOR
) -> list[tuple[Outcome, str]]:
    """Clear failures to shrink: the closest one per (broken claim, set of moved knobs), closest
    first, at most `limit`."""
    best: dict[tuple, tuple[Outcome, str]] = {}
    for o in outcomes:
        dom = primary_domain(o)
        if dom is None:
            continue
        key = (dom, tuple(k.name for k in moved_knobs(o.run.data, anchor)))
        if key not in best or distance(o.run.data, anchor) < distance(
            best[key][0].run.data, anchor
        ):
            best[key] = (o, dom)
    return sorted(best.values(), key=lambda t: distance(t[0].run.data, anchor))[:limit]


def closer(a: DataConfig, b: DataConfig, anchor: DataConfig = ANCHOR) -> bool:
    """Whether `a` is a smaller departure from the anchor than `b`: fewer moved knobs, else a
    smaller distance."""
    ka, kb = len(moved_knobs(a, anchor)), len(moved_knobs(b, anchor))
    return ka < kb or (ka == kb and distance(a, anchor) < distance(b, anchor) - 1e-12)


def minimize(
    failing: Sequence[tuple[Outcome, str]],
    evaluate: Callable[[list[RunConfig]], list[Outcome]],
    *,
    rounds: int,
    anchor: DataConfig = ANCHOR,
    fractions: Sequence[float] = (0.0, 0.25, 0.5, 0.75),
) -> list[tuple[Outcome, str, Outcome]]:
    """Batched shrinking toward the anchor: per round, every single-knob move of every current
    failure trains in one `evaluate` call; a failure is replaced by the closest move that still
    breaks the same claim (`closer`: fewer moved knobs first, then a smaller distance). Returns
    (shrunk outcome, claim broken, outcome as first found), one per (claim, set of knobs still
    moved)."""
    current = [(o, dom, o) for o, dom in failing]
    for _ in range(rounds):
        plan = [
            (i, dataclasses.replace(o.run, data=c))
            for i, (o, _, _) in enumerate(current)
            for c in shrink_candidates(o.run.data, anchor, fractions)
        ]
        if not plan:
            break
        outs = evaluate([r for _, r in plan])
        improved = False
        for (i, _), out in zip(plan, outs):
            o, dom, orig = current[i]
            if out.broke(dom) and closer(out.run.data, o.run.data, anchor):
                current[i] = (out, dom, orig)
                improved = True
        if not improved:
            break
    # one per (claim, set of moved knobs): the closest
    best: dict[tuple, tuple[Outcome, str, Outcome]] = {}
    for o, dom, orig in current:
        key = (dom, tuple(k.name for k in moved_knobs(o.run.data, anchor)))
        if key not in best or closer(o.run.data, best[key][0].run.data, anchor):
            best[key] = (o, dom, orig)
    return sorted(best.values(), key=lambda t: (t[1], distance(t[0].run.data, anchor)))


# ----------------------------------------------------------------------
# the fuzz run


@dataclasses.dataclass(frozen=True)
class FuzzOptions:
    """What `iclcheck fuzz` was asked to do (harness.cli.fuzz parses them)."""

    profile: str = "quick"
    out: Path | None = None
    refresh_reference: bool = False
    root: Path | None = None
    threads: int = 1
    seed: int | None = None
    campaign: bool = True
    budget_probe: bool = True
    task_graph: bool = True
    axes: tuple[str, ...] = ()


def report_dir(o: FuzzOptions, root: Path) -> Path:
    """Where this run's report goes: --out, the committed reference with --refresh-reference (a full
    run only, so that the reference never loses a part), else ROOT/latest, which git ignores."""
    if not o.refresh_reference:
        return Path(o.out) if o.out else root / "latest"
    partial = [
        flag
        for flag, on in (
            ("--axes", o.axes),
            ("--no-campaign", not o.campaign),
            ("--no-budget-probe", not o.budget_probe),
            ("--no-task-graph", not o.task_graph),
        )
        if on
    ]
    if partial:
        raise ValueError(
            f"--refresh-reference: the committed report is a full run; drop {', '.join(partial)}"
        )
    return fuzz_reference_dir()


@dataclasses.dataclass(frozen=True)
class FuzzPlan:
    """What `iclcheck fuzz` will do, checked before anything trains (bad options are ValueErrors
    here, not later)."""

    options: FuzzOptions
    profile: FuzzProfile
    root: Path
    out: Path


def plan_fuzz(o: FuzzOptions) -> FuzzPlan:
    """The options checked and resolved: the profile (restricted to --axes), the fuzz folder and the
    report folder."""
    profile = get_profile(o.profile)
    if o.axes:
        unknown = set(o.axes) - {ax.name for ax in profile.axes}
        if unknown:
            raise ValueError(
                f"--axes: unknown axes {sorted(unknown)}; choose from "
                f"{[ax.name for ax in profile.axes]}"
            )
        profile = dataclasses.replace(
            profile, axes=tuple(ax for ax in profile.axes if ax.name in o.axes)
        )
    root = Path(o.root) if o.root else fuzz_root()
    return FuzzPlan(o, profile, root, report_dir(o, root))


def run_fuzz(plan: FuzzPlan) -> int:
    """`iclcheck fuzz`: the sweep, the probes, the campaign and its shrinking, then the report."""
    a, profile, root, out = plan.options, plan.profile, plan.root, plan.out
    RuntimeSettings.from_env(threads=max(1, a.threads)).apply()
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[fuzz {time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    log(
        f"profile {profile.name}: sweep of {len(profile.axes)} axes x {profile.replicates} "
        "replicates"
    )
    points = run_sweep(profile, root, progress=log)
    anchor_broken = [
        p
        for p in points
        if p.value == profile.axes[0].values[0]
        and p.axis == profile.axes[0].name
        and p.outcome.broken_domains()
    ]
    if anchor_broken:
        log(f"WARNING: the anchor itself breaks a claim in {len(anchor_broken)} replicate(s)")
    budget = [] if not a.budget_probe else run_budget_probe(profile, points, root, progress=log)
    task_graph = [] if not a.task_graph else run_task_graph_probe(profile, root, progress=log)
    campaign, minimal = [], []
    if a.campaign:
        seed = a.seed if a.seed is not None else (0 if profile.name == "quick" else None)
        log(
            f"campaign: {profile.campaign_batches} Hypothesis examples x {profile.campaign_batch} "
            "configurations"
        )
        campaign = run_campaign(profile, root, seed=seed, progress=log)
        failing = pick_failures(campaign, profile.minimize_max)
        log(
            f"campaign: {len(campaign)} configurations, "
            f"{sum(bool(o.broken_domains()) for o in campaign)} clearly failing; "
            f"shrinking {len(failing)}"
        )
        if failing:
            minimal = minimize(
                failing,
                lambda runs: measure_and_record(runs, profile, "minimize", root, progress=log),
                rounds=profile.minimize_rounds,
            )
    path = write_report(
        out,
        profile,
        points,
        campaign,
        minimal,
        wall_seconds=time.perf_counter() - t0,
        budget=budget,
        task_graph=task_graph,
    )
    if a.refresh_reference:
        atomic_write_text(out / "machine.json", json.dumps(machine(), indent=1, sort_keys=True))
    log(f"report: {path}")
    return 0
