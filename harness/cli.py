"""Command line: iclcheck {list, validate, run, report, compare, history, fuzz}.

Exit codes (harness.preflight.EXIT_CODES, shown by --help): 0 every verdict as
expected; 1 an unexpected REFUTED or ERROR (with --strict, INCONCLUSIVE too);
2 bad input: a claim file, an option or a pre-flight check (one line
"error: FILE: KEY: ..."), always before any training; 3 an internal error: one
line naming the log file that holds the traceback.
"""

from __future__ import annotations

import argparse
import io
import os
import datetime as dt
import sys
import time
from pathlib import Path

from harness.claims.schema import PROFILES, ClaimError
from harness.fuzz.campaign import add_arguments as add_fuzz_arguments, plan_fuzz, run_fuzz
from harness.loading import load_claims
from harness.preflight import (EXIT_BAD_INPUT, EXIT_CODES, EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, InternalError, UsageError,
                               check_address, check_device, check_writable_dir, one_line, write_error_log)
from harness.run.execution import EXECUTORS, make_executor
from harness.run.paths import claims_dir, new_run_dir, results_root, robustness_report_dir
from harness.report.claim_report import claim_figures, compare_runs, history, load_run, run_totals, write_report
from harness.report import terminal
from harness.run.runner import run_claims
from harness.training.runtime import RuntimeSettings

def _load(paths: list[str], profile: str, k: str | None = None):
    return load_claims(paths or [claims_dir()], profile, k)


def cmd_list(a: argparse.Namespace) -> int:
    claims = _load(a.paths, "quick")
    print(terminal.table(((c.id, c.kind, f"{c.source}: {c.statement}") for c in claims), headers=("claim", "kind", "source: statement")))
    return 0


def cmd_validate(a: argparse.Namespace) -> int:
    """Every file in both profiles (load_claim checks both), and the checks across files."""
    claims = _load(a.paths, "quick")
    print(f"ok: {len(claims)} claim files valid in profiles {', '.join(PROFILES)}")
    return EXIT_OK


def verdict_failed(v, strict: bool = False) -> bool:
    """Whether a verdict makes a run red (expected verdicts do not)."""
    if v.expected and v.expected[0] == v.verdict:
        return False
    if v.verdict in ("ERROR", "REFUTED"):
        return True
    return strict and v.verdict == "INCONCLUSIVE"


def preflight(a: argparse.Namespace) -> None:
    """Everything about the options that can fail, checked before any training (UsageError: exit 2)."""
    check_device(a.device)
    for opt, v in (("--jobs", a.jobs), ("--max-ensemble", a.max_ensemble)):
        if v < 1:
            raise UsageError(f"{opt} {v}: must be >= 1")
    if a.address and a.executor != "dask":
        raise UsageError(f"--address {a.address}: only --executor dask uses a scheduler address")
    if a.address:
        check_address(a.address)
    results = Path(a.results)
    check_writable_dir(results, "--results")
    check_writable_dir(results / "store", "--results")
    check_writable_dir(Path(a.out) if a.out else results / "runs", "--out" if a.out else "--results")


def cmd_fuzz(a: argparse.Namespace) -> int:
    """`iclcheck fuzz`: options checked first (exit 2), then a failure while fuzzing is an internal error (exit 3)."""
    plan = plan_fuzz(a)
    try:
        return run_fuzz(plan)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        raise InternalError(one_line(exc)) from exc


def cmd_run(a: argparse.Namespace) -> int:
    claims = _load(a.paths, a.profile, a.k)
    if not claims:
        raise UsageError("no claim matches")
    preflight(a)
    RuntimeSettings.from_env().apply(a.device)
    try:
        return _run(a, claims)
    except (InternalError, KeyboardInterrupt):
        raise
    except Exception as exc:  # after the pre-flight checks nothing is bad input any more
        raise InternalError(one_line(exc)) from exc


def _run(a: argparse.Namespace, claims: list) -> int:
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    ex = make_executor(a.executor, a.jobs, a.device, a.address)
    try:
        runs = run_claims(claims, a.results, ex, a.max_ensemble, progress=not a.no_progress, family=a.family,
                          reuse_stale=a.reuse_stale)
    finally:
        ex.close()
    verdicts = [r.verdict for r in runs]
    out = Path(a.out) if a.out else new_run_dir(Path(a.results), started, a.profile)
    meta = {"profile": a.profile, "started": started.isoformat(), "seconds": time.perf_counter() - t0, "executor": a.executor,
            "family": a.family, "claims": [c.id for c in claims], "max_ensemble": a.max_ensemble, **run_totals(runs)}
    report = write_report(out, verdicts, meta, a.device, claim_figures(runs), robustness=robustness_report_dir(Path(a.results)))
    print(terminal.verdict_table(verdicts))
    counts = {s: sum(v.verdict == s for v in verdicts) for s in ("CONFIRMED", "REFUTED", "INCONCLUSIVE", "ERROR")}
    print(f"\n{len(verdicts)} claims: " + ", ".join(f"{n} {s}" for s, n in counts.items()) +
          f" | {meta['models_trained']} models trained, {meta['models_reused']} reused from the store | {time.perf_counter() - t0:.0f} s | report: {report}")
    for cid, v in meta["reused_from_other_code"].items():
        print(f"warning: {cid}: {v['records']} records reused from other code (fingerprint {', '.join(v['fingerprints'])})", file=sys.stderr)
    return EXIT_FAILED if any(verdict_failed(v, a.strict) for v in verdicts) else EXIT_OK


def cmd_report(a: argparse.Namespace) -> int:
    run = load_run(a.run)
    m = run["meta"]
    print(terminal.clip(f"profile {m.get('profile')} | commit {m.get('git_commit')} | device {m.get('device')}", terminal.width()))
    print(terminal.table((v["claim_id"], terminal.outcome_name(v["verdict"], v.get("expected")),
                          terminal.short_measurement(v["measurement"], v["prediction"])) for v in run["verdicts"]))
    return 0


def cmd_compare(a: argparse.Namespace) -> int:
    print(compare_runs(a.a, a.b))
    return 0


def cmd_history(a: argparse.Namespace) -> int:
    dirs = a.runs or sorted(str(p.parent) for p in (Path(a.results) / "runs").glob("*/verdicts.json"))
    if not dirs:
        raise UsageError(f"no runs under {Path(a.results) / 'runs'}")
    print(history(dirs, warn=lambda msg: print(f"warning: {msg}", file=sys.stderr)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iclcheck", description="Run and judge the claims of Li et al. (ICML 2024) on in-context learning.",
                                epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("list", help="list claim files")
    s.add_argument("paths", nargs="*")
    s.set_defaults(fn=cmd_list)
    s = sub.add_parser("validate", help="validate claim files (both profiles)")
    s.add_argument("paths", nargs="*")
    s.set_defaults(fn=cmd_validate)
    s = sub.add_parser("run", help="train, measure and judge claims", epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    s.add_argument("--reuse-stale", action="store_true",
                   help="reuse a stored record written by other code (another code fingerprint) instead of retraining it; "
                        "the report names every claim that did")
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
    s.set_defaults(fn=cmd_fuzz)
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch, and map every outcome to its exit code (see EXIT_CODES)."""
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except BrokenPipeError:  # the reader went away (`iclcheck list | head`): nothing more to say
        try:  # and nothing to flush into the closed pipe at exit either
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return EXIT_OK
    except InternalError as exc:
        return _internal(exc.__cause__ or exc, args)
    except (ClaimError, ValueError) as exc:  # ClaimError and UsageError are ValueErrors: bad input
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: finished units are in the store; rerun to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input
        return _internal(exc, args)


def _internal(exc: BaseException, args: argparse.Namespace) -> int:
    log = write_error_log(exc, Path(getattr(args, "results", None) or results_root()))
    print(f"internal error: {one_line(exc)} (traceback in {log})", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
