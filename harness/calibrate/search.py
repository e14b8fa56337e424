"""The calibration search: for each stage, the declared settings (a random draw or the full grid),
judged by the stage's figure claims under each, narrowed by successive halving over the rungs'
replicates; every setting tried is logged with its score and its cost.

A setting is judged as a temporary regime (harness.claims.regime) applied to the stage's claims,
which run with their controls through the store: a revisited model is measured, not retrained. The
score is the mean over the stage's claims of the figure kind's objective (the mean |log ratio| over
their points, each world of a mixture factor counted, a measured 0 floored at its resolution); an
invalid setting or an ERROR scores infinity, with the reason logged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.calibrate.space import CalibrationSpec, Stage
from harness.claims.claim import Claim
from harness.claims.errors import ClaimError
from harness.claims.regime import Regime, RegimePart, apply_regime


@dataclass(frozen=True)
class Trial:
    """One setting judged at one rung."""

    stage: str
    rung: int
    replicates: int
    setting: dict[str, Any]
    score: float
    verdicts: dict[str, str]  # claim id -> verdict
    models_trained: int
    seconds: float
    note: str = ""


@dataclass
class StageResult:
    stage: str
    trials: list[Trial] = field(default_factory=list)
    winner: dict[str, Any] = field(default_factory=dict)
    score: float = math.inf


def _draw_seed(seed: int, *what: object) -> int:
    """A seed derived from what the draw is for (never from order or grouping)."""
    text = "|".join(str(w) for w in (seed, *what))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def candidates(spec: CalibrationSpec, stage: Stage) -> list[dict[str, Any]]:
    """The stage's settings: every combination (grid) or `budget` distinct random draws."""
    keys = list(stage.space)
    if stage.method == "grid":
        return [dict(zip(keys, combo)) for combo in itertools.product(*stage.space.values())]
    total = math.prod(len(v) for v in stage.space.values())
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < min(stage.budget, total):
        rng = random.Random(_draw_seed(spec.seed, stage.name, "draw", i))
        s = {k: rng.choice(stage.space[k]) for k in keys}
        if s not in out:
            out.append(s)
        i += 1
    return out


Runner = Callable[[list[Claim]], tuple[list[Any], int]]  # claims -> (verdicts, models trained)


def judge_setting(
    claims: list[Claim], stage: Stage, setting: dict[str, Any], replicates: int, run: Runner
) -> tuple[float, dict[str, str], int, str]:
    """(score, verdicts, models trained, note) of the stage's claims under `setting`."""
    regime = Regime("calibrating", "a calibration trial", (RegimePart(setting, stage.applies_to),))
    try:
        under = [
            dataclasses.replace(apply_regime(c, regime), replicates=replicates) for c in claims
        ]
    except (ClaimError, ValueError) as exc:
        return math.inf, {}, 0, f"invalid: {str(exc).split(': ', 1)[-1]}"
    verdicts, trained = run(under)
    scores = [float(v.details.get("score", math.inf)) for v in verdicts]
    note = "; ".join(f"{v.claim_id}: {v.notes[0]}" for v in verdicts if v.verdict == "ERROR")
    score = sum(scores) / len(scores) if scores else math.inf
    return score, {v.claim_id: v.verdict for v in verdicts}, trained, note


def run_stage(
    spec: CalibrationSpec,
    stage: Stage,
    claims: list[Claim],
    run: Runner,
    log: Callable[[str], None] = print,
) -> StageResult:
    """Successive halving over the stage's rungs; the winner is the best score at the last rung
    any setting reached."""
    result = StageResult(stage.name)
    alive = candidates(spec, stage)
    for rung, reps in enumerate(stage.rungs):
        scored: list[tuple[float, int]] = []
        for i, setting in enumerate(alive):
            t0 = time.perf_counter()
            score, verdicts, trained, note = judge_setting(claims, stage, setting, reps, run)
            trial = Trial(
                stage.name,
                rung,
                reps,
                setting,
                score,
                verdicts,
                trained,
                round(time.perf_counter() - t0, 2),
                note,
            )
            result.trials.append(trial)
            scored.append((score, i))
            log(
                f"{stage.name} rung {rung} ({reps} seeds) {i + 1}/{len(alive)}: score {score:.3g}"
                f", {trained} trained, {trial.seconds:.0f} s"
            )
        scored.sort()
        finite = [(s, i) for s, i in scored if math.isfinite(s)]
        if not finite:
            break
        result.winner, result.score = dict(alive[finite[0][1]]), finite[0][0]
        if rung + 1 < len(stage.rungs):
            n = max(1, math.ceil(stage.keep * len(finite)))
            alive = [alive[i] for _, i in finite[:n]]
    return result


def claims_of(stage: Stage, all_claims: list[Claim], path: str) -> list[Claim]:
    """The stage's claims, by id; one line naming the calibration file when one is unknown."""
    by_id = {c.id: c for c in all_claims}
    missing = [c for c in stage.claims if c not in by_id]
    if missing:
        raise ClaimError(f"{path}: stage {stage.name}: claims: unknown claim {missing[0]!r}")
    for c in stage.claims:
        if by_id[c].kind != "figure":
            raise ClaimError(
                f"{path}: stage {stage.name}: claims: {c!r} is a {by_id[c].kind} claim; the "
                "objective reads figure claims"
            )
    return [by_id[c] for c in stage.claims]


def log_json(spec: CalibrationSpec, results: list[StageResult], meta: dict[str, Any]) -> dict:
    """The search log as committed: the declared spec, every trial, each stage's winner."""
    return {
        "spec": spec.path,
        "regime": spec.regime,
        "profile": spec.profile,
        "objective": spec.objective,
        "seed": spec.seed,
        "changes": list(spec.changes),
        "meta": meta,
        "stages": [
            {
                "stage": r.stage,
                "winner": r.winner,
                "score": r.score if math.isfinite(r.score) else None,
                "trials": [
                    {**dataclasses.asdict(t), "score": t.score if math.isfinite(t.score) else None}
                    for t in r.trials
                ],
            }
            for r in results
        ],
    }


def total_cost(results: list[StageResult]) -> tuple[int, float]:
    """(models trained, seconds) over every trial."""
    trials = [t for r in results for t in r.trials]
    return sum(t.models_trained for t in trials), sum(t.seconds for t in trials)


__all__ = ["Trial", "StageResult", "candidates", "run_stage", "claims_of", "log_json"]
