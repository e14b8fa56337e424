"""End-to-end throughput: a whole quick-profile run, all claims planned together, from an empty
store.

Reported: model-steps per second of the whole run (planning, training, measuring every eval point,
storing, judging: wall clock) against the ensemble trainer's own rate on the same ensembles in the
same run (model-steps over the seconds spent inside `train_ensemble`, each ensemble once, as its
records hold them); their ratio is the share of the run's wall time that is training (target >=
50%). Also: models the claims ask for and models trained (shared across claims)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROFILE = "quick"


def whole_run(results: Path) -> dict:
    from harness.loading import load_claims
    from harness.run.execution import make_executor
    from harness.run.runner import run_claims

    paths = sorted(p for p in (REPO / "claims").glob("*.toml") if not p.name.startswith("_"))
    claims = load_claims(paths, PROFILE)
    ex = make_executor("local")
    t0 = time.perf_counter()
    runs = run_claims(claims, results, ex, progress=False)
    wall = time.perf_counter() - t0
    ex.close()
    seen: dict[str, object] = {}
    for r in runs:
        for rec in r.records:
            seen.setdefault(rec.key, rec)
    model_steps = sum(rec.config.train.steps for rec in seen.values())
    train_s = sum(rec.timing.train_seconds_per_model for rec in seen.values())
    return {
        "claims": len(claims),
        "models asked for": runs[0].planned["units_requested"],
        "models trained": sum(r.counts["done"] for r in runs),
        "wall s": wall,
        "train s (in trainer)": train_s,
        "run model-steps/s": model_steps / wall,
        "trainer model-steps/s": model_steps / train_s,
        "run / trainer": train_s / wall,
    }


def test_whole_quick_run_vs_trainer(benchmark, table):
    out: dict = {}

    def once() -> None:
        with tempfile.TemporaryDirectory(prefix="iclcheck-bench-run-") as d:
            out.update(whole_run(Path(d)))

    benchmark.pedantic(once, rounds=1, iterations=1)
    row = {"config": f"whole {PROFILE} run", **out}
    benchmark.extra_info.update(row)
    table.append(row)
    assert out["models trained"] <= out["models asked for"]


def test_eval_only_rerun_vs_full_run(benchmark, table):
    """Train once, measure many times: the quick profile from an empty store, then the same run
    again with every measurement record removed (the stored models kept, as after a change of
    n_test, test sampling or an OOD reading): it trains nothing and measures every unit again.
    Reported: both wall times and their ratio (eval-only / full), in one run."""
    import shutil

    out: dict = {}

    def once() -> None:
        with tempfile.TemporaryDirectory(prefix="iclcheck-bench-remeasure-") as d:
            full = whole_run(Path(d))
            shutil.rmtree(Path(d) / "store" / "units")
            again = whole_run(Path(d))
            out.update(
                {
                    "claims": full["claims"],
                    "models trained (full)": full["models trained"],
                    "models trained (eval-only)": again["models trained"],
                    "full s": full["wall s"],
                    "eval-only s": again["wall s"],
                    "eval-only / full": again["wall s"] / full["wall s"],
                }
            )

    benchmark.pedantic(once, rounds=1, iterations=1)
    row = {"config": f"eval-only rerun of the {PROFILE} run", **out}
    benchmark.extra_info.update(row)
    table.append(row)
    assert out["models trained (eval-only)"] == 0
