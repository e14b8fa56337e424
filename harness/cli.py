"""Command line: iclcheck {list, validate, run, report, compare, history, fuzz}.

Bad input (a malformed claim file, an unknown option value) prints one line
"error: FILE: KEY: ..." and exits 2; a run exits 1 when a verdict is ERROR or
an unexpected REFUTED (and, with --strict, INCONCLUSIVE), 0 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from tabulate import tabulate

from harness.claims.schema import PROFILES, ClaimError, discover, load_claim
from harness.fuzz.campaign import add_arguments as add_fuzz_arguments, run_fuzz
from harness.loading import check_references, load_claims
from harness.run.execution import EXECUTORS, make_executor
from harness.run.paths import claims_dir, results_root, robustness_report_dir
from harness.report.claim_report import claim_figures, compare_runs, history, load_run, run_totals, summary_table, write_report
from harness.run.runner import run_claims
from harness.training.runtime import RuntimeSettings

def _load(paths: list[str], profile: str, k: str | None = None):
    return load_claims(paths or [claims_dir()], profile, k)


def cmd_list(a: argparse.Namespace) -> int:
    claims = _load(a.paths, "quick")
    print(tabulate([[c.id, c.kind, c.source, c.statement[:90]] for c in claims], headers=["claim", "kind", "source", "statement"], tablefmt="github"))
    return 0


def cmd_validate(a: argparse.Namespace) -> int:
    files = discover(a.paths or [claims_dir()])
    for f in files:
        for p in PROFILES:
            check_references(load_claim(f, p))
    print(f"ok: {len(files)} claim files valid in profiles {', '.join(PROFILES)}")
    return 0


def verdict_failed(v, strict: bool = False) -> bool:
    """Whether a verdict makes a run red (expected verdicts do not)."""
    if v.expected and v.expected[0] == v.verdict:
        return False
    if v.verdict in ("ERROR", "REFUTED"):
        return True
    return strict and v.verdict == "INCONCLUSIVE"


def cmd_run(a: argparse.Namespace) -> int:
    import torch

    if a.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {a.device}: CUDA is not available on this machine")
    claims = _load(a.paths, a.profile, a.k)
    if not claims:
        raise ValueError("no claim matches")
    RuntimeSettings.from_env().apply(a.device)
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    ex = make_executor(a.executor, a.jobs, a.device, a.address)
    try:
        runs = run_claims(claims, a.results, ex, a.max_ensemble, progress=not a.no_progress, family=a.family)
    finally:
        ex.close()
    verdicts = [r.verdict for r in runs]
    out = Path(a.out) if a.out else Path(a.results) / "runs" / f"{started:%Y%m%dT%H%M%SZ}-{a.profile}"
    meta = {"profile": a.profile, "started": started.isoformat(), "seconds": time.perf_counter() - t0, "executor": a.executor,
            "family": a.family, "claims": [c.id for c in claims], "max_ensemble": a.max_ensemble, **run_totals(runs)}
    report = write_report(out, verdicts, meta, a.device, claim_figures(runs), robustness=robustness_report_dir(Path(a.results)))
    print(summary_table(verdicts))
    counts = {s: sum(v.verdict == s for v in verdicts) for s in ("CONFIRMED", "REFUTED", "INCONCLUSIVE", "ERROR")}
    print(f"\n{len(verdicts)} claims: " + ", ".join(f"{n} {s}" for s, n in counts.items()) +
          f" | {meta['models_trained']} models trained, {meta['models_reused']} reused from the store | {time.perf_counter() - t0:.0f} s | report: {report}")
    return 1 if any(verdict_failed(v, a.strict) for v in verdicts) else 0


def cmd_report(a: argparse.Namespace) -> int:
    run = load_run(a.run)
    m = run["meta"]
    rows = [[v["claim_id"], v["prediction"], v["measurement"], v["over"], v["verdict"]] for v in run["verdicts"]]
    print(f"profile {m.get('profile')} | commit {m.get('git_commit')} | device {m.get('device')}")
    print(tabulate(rows, headers=["claim", "prediction", "measurement", "over", "verdict"], tablefmt="github"))
    return 0


def cmd_compare(a: argparse.Namespace) -> int:
    print(compare_runs(a.a, a.b))
    return 0


def cmd_history(a: argparse.Namespace) -> int:
    dirs = a.runs or sorted(str(p.parent) for p in (Path(a.results) / "runs").glob("*/verdicts.json"))
    if not dirs:
        raise ValueError(f"no runs under {Path(a.results) / 'runs'}")
    print(history(dirs))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iclcheck", description="Run and judge the claims of Li et al. (ICML 2024) on in-context learning.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("list", help="list claim files")
    s.add_argument("paths", nargs="*")
    s.set_defaults(fn=cmd_list)
    s = sub.add_parser("validate", help="validate claim files (both profiles)")
    s.add_argument("paths", nargs="*")
    s.set_defaults(fn=cmd_validate)
    s = sub.add_parser("run", help="train, measure and judge claims")
    s.add_argument("paths", nargs="*", help="claim files or folders (default: claims/)")
    s.add_argument("--profile", choices=PROFILES, default="quick")
    s.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    s.add_argument("--executor", choices=EXECUTORS, default="local")
    s.add_argument("--jobs", type=int, default=1, help="workers for the process/dask executors")
    s.add_argument("--address", default=None, help="Dask scheduler address (default: a LocalCluster on 127.0.0.1)")
    s.add_argument("--results", default=str(results_root()), help="results folder (store and runs)")
    s.add_argument("--out", default=None, help="report folder (default: RESULTS/runs/<time>-<profile>)")
    s.add_argument("--max-ensemble", type=int, default=64)
    s.add_argument("--family", choices=("holm", "bh"), default="holm")
    s.add_argument("-k", default=None, help="only claims whose id contains this")
    s.add_argument("--strict", action="store_true", help="INCONCLUSIVE also fails the run")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(fn=cmd_run)
    s = sub.add_parser("report", help="print a run's verdict table")
    s.add_argument("run")
    s.set_defaults(fn=cmd_report)
    s = sub.add_parser("compare", help="compare two runs")
    s.add_argument("a")
    s.add_argument("b")
    s.set_defaults(fn=cmd_compare)
    s = sub.add_parser("history", help="verdicts and exponents across runs (nightly view)")
    s.add_argument("runs", nargs="*")
    s.add_argument("--results", default=str(results_root()))
    s.set_defaults(fn=cmd_history)
    s = sub.add_parser("fuzz", help="fuzz the theory's assumptions: robustness sweep, Hypothesis campaign, report")
    add_fuzz_arguments(s)
    s.set_defaults(fn=run_fuzz)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (ClaimError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished units are in the store; rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
