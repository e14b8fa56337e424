"""`iclcheck calibrate`: search the declared space of claims/_calibration.toml for the setting
under which the paper's figure claims hold best, log every trial, and write the winner as a named
regime (claims/_regimes.toml) with a change entry."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from harness.cli.base import Command
from harness.session.errors import EXIT_BAD_INPUT, EXIT_OK


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--file",
        metavar="FILE",
        help="the calibration file: space, objective, budget (default claims/_calibration.toml)",
    )
    s.add_argument(
        "--results",
        metavar="DIR",
        help="the store the trials share (default $ICLCHECK_RESULTS, else results/)",
    )
    s.add_argument(
        "--log-dir",
        metavar="DIR",
        help="where the search log goes (default RESULTS/calibration/<regime>)",
    )
    s.add_argument(
        "--no-write",
        action="store_true",
        help="search and log only; leave claims/_regimes.toml as it is",
    )
    s.add_argument("--device", default="cpu", metavar="NAME", help="cpu, cuda or cuda:N")


def _log_lines(log: dict) -> list[str]:
    """The search log as a Markdown table per stage (every trial, its score and cost)."""
    out = [
        f"# Calibration of regime `{log['regime']}`",
        "",
        f"From `{log['spec']}`; objective "
        f"`{log['objective']}` (lower is better); seed {log['seed']}.",
        "",
    ]
    for st in log["stages"]:
        out += [
            f"## Stage `{st['stage']}`",
            "",
            f"Winner (score {st['score']}): `{json.dumps(st['winner'])}`",
            "",
            "| rung | seeds | setting | score | verdicts | trained | s |",
            "|---|---|---|---|---|---|---|",
        ]
        for t in st["trials"]:
            setting = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in t["setting"].items())
            verdicts = ", ".join(f"{v}" for v in t["verdicts"].values()) or t["note"]
            score = "inf" if t["score"] is None else f"{t['score']:.3g}"
            out.append(
                f"| {t['rung']} | {t['replicates']} | {setting} | {score} | {verdicts} | "
                f"{t['models_trained']} | {t['seconds']:.0f} |"
            )
        out.append("")
    return out


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(a: argparse.Namespace) -> int:
    from harness.calibrate.regime_file import write_regime
    from harness.calibrate.search import claims_of, log_json, run_stage, total_cost
    from harness.calibrate.space import CALIBRATION_FILE, load_calibration
    from harness.claims.regime import RegimePart
    from harness.core.jsonio import atomic_write_text
    from harness.loading import load_claims
    from harness.run.execution import make_executor
    from harness.run.paths import claims_dir, results_root
    from harness.run.provenance import git_commit
    from harness.run.runner import run_claims

    spec = load_calibration(Path(a.file) if a.file else claims_dir() / CALIBRATION_FILE)
    claims = load_claims([claims_dir()], spec.profile)
    stages = [(s, claims_of(s, claims, spec.path)) for s in spec.stages]
    results_dir = Path(a.results) if a.results else results_root(Path("."))
    executor = make_executor("local", device=a.device)

    def runner(cs):
        runs = run_claims(cs, results_dir, executor, progress=False)
        trained = sum(
            r.counts.get("done", 0) + (r.control.counts.get("done", 0) if r.control else 0)
            for r in runs
        )
        return [r.verdict for r in runs], trained

    t0, commit = time.perf_counter(), git_commit()  # the code the search runs, taken at its start
    results = [run_stage(spec, s, cs, runner, log=_progress) for s, cs in stages]
    trained, _ = total_cost(results)
    meta = {
        "commit": commit,
        "device": a.device,
        "models_trained": trained,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    log = log_json(spec, results, meta)
    log_dir = Path(a.log_dir) if a.log_dir else results_dir / "calibration" / spec.regime
    log_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(log_dir / "search.json", json.dumps(log, indent=1) + "\n")
    atomic_write_text(log_dir / "search.md", "\n".join(_log_lines(log)) + "\n")
    print(
        f"search log: {log_dir / 'search.json'} ({trained} models trained, {meta['wall_s']:.0f} s)"
    )
    if any(not r.winner for r in results):
        print("error: a stage found no setting with a finite score; no regime written")
        return EXIT_BAD_INPUT
    for r in results:
        print(f"stage {r.stage}: score {r.score:.3g} with {json.dumps(r.winner)}")
    if a.no_write:
        return EXIT_OK
    parts = [RegimePart(r.winner, s.applies_to) for r, (s, _) in zip(results, stages)]
    score = sum(r.score for r in results) / len(results)
    path = write_regime(
        claims_dir(),
        spec.regime,
        f"calibrated on {', '.join(c for s in spec.stages for c in s.claims)} ({spec.path})",
        parts,
        str(log_dir / "search.json"),
        score if math.isfinite(score) else math.inf,
        commit,
    )
    print(f"regime {spec.regime} written to {path}")
    return EXIT_OK


COMMAND = Command(
    name="calibrate",
    help="search the declared space for the setting the paper's figures pin down",
    add_arguments=add_arguments,
    run=run,
    examples=(
        "iclcheck calibrate",
        "iclcheck calibrate --no-write --log-dir /tmp/cal",
    ),
    exit_codes=f"exit codes:\n  {EXIT_OK}  searched (and the regime written)\n"
    f"  {EXIT_BAD_INPUT}  bad calibration file, or no setting scored\n",
)
