"""Command line: iclcheck {list, validate, run, nightly, report, compare, history, fuzz, ledger}.

Exit codes (harness.preflight.EXIT_CODES, shown by --help): 0 every verdict as
expected; 1 an unexpected REFUTED or ERROR (with --strict, INCONCLUSIVE too);
2 bad input: a claim file, an option or a pre-flight check (one line
"error: FILE: KEY: ..."), always before any training; 3 an internal error: one
line naming the log file that holds the traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness import ledger_cli, multiverse_cli
from harness.claims.schema import PROFILES, ClaimError
from harness.core.jsonio import atomic_write_text
from harness.fuzz.campaign import add_arguments as add_fuzz_arguments
from harness.fuzz.campaign import plan_fuzz, run_fuzz
from harness.loading import load_claims
from harness.nightly import publish, resolve_baseline
from harness.preflight import (
    EXIT_BAD_INPUT,
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_OK,
    InternalError,
    UsageError,
    check_run_options,
    one_line,
    write_error_log,
)
from harness.report import terminal
from harness.report.claim_report import claim_figures, run_totals, write_report
from harness.report.compare import (
    DRIFT_Z,
    FAIL_ON,
    Comparison,
    compare,
    comparison_json,
    history,
    terminal_rows,
)
from harness.report.run_folders import load_run
from harness.run.execution import EXECUTORS, make_executor
from harness.run.paths import claims_dir, new_run_dir, results_root, robustness_report_dir
from harness.run.runner import run_claims
from harness.training.runtime import RuntimeSettings

COMPARE_EXIT_CODES = f"""exit codes:
  {EXIT_OK}  no failure by --fail-on (default: no unexpected flip)
  {EXIT_FAILED}  an unexpected flip: the new verdict is REFUTED or ERROR, or the baseline was CONFIRMED, and the claim's
     recorded expectation does not name the new verdict (--fail-on any-change: any flip, drift, added or removed claim)
  {EXIT_BAD_INPUT}  bad input: an unreadable run folder, runs of different profiles (without --allow-mismatch), an option
"""
NIGHTLY_EXIT_CODES = f"""exit codes:
  {EXIT_OK}  every verdict as expected, and no failure by --fail-on against the baseline
  {EXIT_FAILED}  an unexpected REFUTED or ERROR verdict, or an unexpected flip against the baseline (per --fail-on)
  {EXIT_BAD_INPUT}  bad input, before any training: a claim file, an option, an unreadable --baseline folder, a baseline
     of another profile (without --allow-mismatch)
  {EXIT_INTERNAL}  internal error: one line names the log file holding the traceback
"""


def _load(paths: list[str], profile: str, k: str | None = None, reference: str | None = None):
    return load_claims(paths or [claims_dir()], profile, k, reference)


def cmd_list(a: argparse.Namespace) -> int:
    claims = _load(a.paths, "quick")
    print(
        terminal.table(
            ((c.id, c.kind, f"{c.source}: {c.statement}") for c in claims),
            headers=("claim", "kind", "source: statement"),
        )
    )
    return 0


def cmd_validate(a: argparse.Namespace) -> int:
    """Every file in both profiles (load_claim checks both), and the checks across files."""
    claims = _load(a.paths, "quick", reference=a.reference)
    print(f"ok: {len(claims)} claim files valid in profiles {', '.join(PROFILES)}")
    return EXIT_OK


def verdict_failed(v, strict: bool = False) -> bool:
    """Whether a verdict makes a run red (expected verdicts do not)."""
    if v.expected and v.expected[0] == v.verdict:
        return False
    if v.verdict in ("ERROR", "REFUTED"):
        return True
    return strict and v.verdict == "INCONCLUSIVE"


def cmd_fuzz(a: argparse.Namespace) -> int:
    """`iclcheck fuzz`: options checked first (exit 2), then a failure while fuzzing is an internal
    error (exit 3)."""
    plan = plan_fuzz(a)
    try:
        return run_fuzz(plan)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        raise InternalError(one_line(exc)) from exc


def _prepare(a: argparse.Namespace) -> list:
    """The selected claims, with the pre-flight checks passed (bad input: exit 2 before any
    training)."""
    claims = _load(a.paths, a.profile, a.k)
    if not claims:
        raise UsageError("no claim matches")
    check_run_options(a)
    a.multiverse_plan = multiverse_cli.prepare(a, claims)  # validated before anything trains
    return claims


@dataclass
class RunOutcome:
    """A finished run: its folder, its verdicts, and whether a verdict makes it red."""

    out: Path
    verdicts: list
    failed: bool


def cmd_run(a: argparse.Namespace) -> int:
    return EXIT_FAILED if run_and_report(a, _prepare(a)).failed else EXIT_OK


def run_and_report(a: argparse.Namespace, claims: list) -> RunOutcome:
    """Train (reusing stored records of the same code), judge, write the run folder and print the
    verdicts; used by `run` and `nightly`. A failure here is not bad input any more: InternalError
    (exit 3)."""
    RuntimeSettings.from_env().apply(a.device)
    try:
        return _run(a, claims)
    except (InternalError, KeyboardInterrupt):
        raise
    except Exception as exc:  # after the pre-flight checks nothing is bad input any more
        raise InternalError(one_line(exc)) from exc


def _run(a: argparse.Namespace, claims: list) -> RunOutcome:
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    ex = make_executor(a.executor, a.jobs, a.device, a.address)
    try:
        runs = run_claims(
            claims,
            a.results,
            ex,
            a.max_ensemble,
            progress=not a.no_progress,
            family=a.family,
            reuse_stale=a.reuse_stale,
        )
        plan = getattr(a, "multiverse_plan", None)
        blocks, mv_totals = (
            multiverse_cli.run(a, runs, ex, plan) if plan is not None else (None, None)
        )
    finally:
        ex.close()
    verdicts = [r.verdict for r in runs]
    out = Path(a.out) if a.out else new_run_dir(Path(a.results), started, a.profile)
    meta = {
        "profile": a.profile,
        "started": started.isoformat(),
        "seconds": time.perf_counter() - t0,
        "executor": a.executor,
        "family": a.family,
        "claims": [c.id for c in claims],
        "max_ensemble": a.max_ensemble,
        **run_totals(runs),
        **({"multiverse": mv_totals} if mv_totals else {}),
    }
    report = write_report(
        out,
        verdicts,
        meta,
        a.device,
        claim_figures(runs),
        robustness=robustness_report_dir(Path(a.results)),
        multiverse=blocks,
    )
    print(
        terminal.verdict_table(
            verdicts,
            robustness={c: b["label"] for c, b in blocks.items()} if blocks is not None else None,
        )
    )
    if mv_totals:
        print(multiverse_cli.summary_line(mv_totals))
    counts = {
        s: sum(v.verdict == s for v in verdicts)
        for s in ("CONFIRMED", "REFUTED", "INCONCLUSIVE", "ERROR")
    }
    print(
        f"\n{len(verdicts)} claims: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + f" | {meta['models_trained']} models trained, {meta['models_reused']} reused from the store"
        f" ({meta.get('models_planned', '?')} distinct models for "
        f"{meta.get('units_requested', '?')} claim units)"
        f" | {time.perf_counter() - t0:.0f} s | report: {report}"
    )
    for cid, v in meta["reused_from_other_code"].items():
        print(
            f"warning: {cid}: {v['records']} records reused from other code (fingerprint "
            f"{', '.join(v['fingerprints'])})",
            file=sys.stderr,
        )
    return RunOutcome(out, verdicts, any(verdict_failed(v, a.strict) for v in verdicts))


def cmd_report(a: argparse.Namespace) -> int:
    run = load_run(a.run)
    m = run["meta"]
    print(
        terminal.clip(
            f"profile {m.get('profile')} | commit {m.get('git_commit')} | device {m.get('device')}",
            terminal.width(),
        )
    )
    print(terminal.stored_table(run["verdicts"]))
    return 0


def cmd_compare(a: argparse.Namespace) -> int:
    """A (baseline) against B (new): flips and drifts; exit 1 when --fail-on says the change is a
    failure."""
    _check_drift_z(a.drift_z)
    cmp = compare(a.a, a.b, a.drift_z, a.allow_mismatch)
    _show(cmp)
    if a.json:
        atomic_write_text(Path(a.json), comparison_json(cmp))
    return EXIT_FAILED if cmp.failed(a.fail_on) else EXIT_OK


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def _check_drift_z(z: float) -> None:
    if not z > 0:
        raise UsageError(f"--drift-z {z}: must be > 0")


def _show(cmp: Comparison) -> None:
    for w in cmp.warnings:
        _warn(w)
    print(
        terminal.table(
            terminal_rows(cmp), headers=("claim", "verdict", "change since the baseline")
        )
    )
    k = cmp.counts()
    print(
        f"\n{k['claims']} claims: {k['flips']} flips ({k['unexpected_flips']} unexpected), "
        f"{k['drifts']} drifts "
        f"(|z| > {cmp.threshold:g}), {k['added']} added, {k['removed']} removed"
    )


def cmd_nightly(a: argparse.Namespace) -> int:
    """`run`, then compare with the baseline (checked before training), compare.json and summary.md
    in the run folder."""
    _check_drift_z(a.drift_z)
    claims = _prepare(a)
    baseline = resolve_baseline(
        a.baseline, Path(a.results), a.profile, a.out, a.allow_mismatch, _warn
    )
    outcome = run_and_report(a, claims)
    # profiles checked above
    cmp = compare(baseline, outcome.out, a.drift_z, a.allow_mismatch) if baseline else None
    if cmp:
        print(f"\nagainst baseline {baseline}:")
        _show(cmp)
    publish(cmp, outcome.out, a.profile, Path(a.results))
    print(f"summary: {outcome.out / 'summary.md'}")
    return EXIT_FAILED if outcome.failed or (cmp is not None and cmp.failed(a.fail_on)) else EXIT_OK


def cmd_history(a: argparse.Namespace) -> int:
    _check_drift_z(a.drift_z)
    dirs = a.runs or sorted(
        str(p.parent) for p in (Path(a.results) / "runs").glob("*/verdicts.json")
    )
    if not dirs:
        raise UsageError(f"no runs under {Path(a.results) / 'runs'}")
    print(history(dirs, warn=_warn, threshold=a.drift_z))
    return 0


def _run_options(s: argparse.ArgumentParser, profile: str) -> None:
    """The options of `run`, shared with `nightly`."""
    s.add_argument("paths", nargs="*", help="claim files or folders (default: claims/)")
    s.add_argument("--profile", choices=PROFILES, default=profile)
    s.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    s.add_argument("--executor", choices=EXECUTORS, default="local")
    s.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="workers for the process/dask executors (dask on --device cuda: one worker per visible GPU instead)",
    )
    s.add_argument(
        "--address",
        default=None,
        help="Dask scheduler address (default: a local cluster on 127.0.0.1); each worker sets its own threads and uses the GPU its environment exposes",
    )
    s.add_argument("--results", default=str(results_root()), help="results folder (store and runs)")
    s.add_argument(
        "--out", default=None, help="report folder (default: RESULTS/runs/<time>-<profile>)"
    )
    s.add_argument("--max-ensemble", type=int, default=64)
    s.add_argument("--family", choices=("holm", "bh"), default="holm")
    s.add_argument("-k", default=None, help="only claims whose id contains this")
    s.add_argument("--strict", action="store_true", help="INCONCLUSIVE also fails the run")
    s.add_argument("--no-progress", action="store_true")
    s.add_argument(
        "--reuse-stale",
        action="store_true",
        help="reuse a stored record written by other code (another code fingerprint) instead of retraining it; "
        "the report names every claim that did",
    )
    multiverse_cli.add_options(s)


def _compare_options(s: argparse.ArgumentParser, fail_on: bool = True) -> None:
    s.add_argument(
        "--drift-z",
        type=float,
        default=DRIFT_Z,
        help="flag an estimate that moved by more than this many "
        "combined standard errors (default %(default)s)",
    )
    if fail_on:
        s.add_argument(
            "--fail-on",
            choices=FAIL_ON,
            default="flip",
            help="exit 1 on: an unexpected flip (default), "
            "any flip, drift, added or removed claim, or never",
        )
        s.add_argument(
            "--allow-mismatch",
            action="store_true",
            help="compare runs of different profiles (refused by default)",
        )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iclcheck",
        description="Run and judge the claims of Li et al. (ICML 2024) on in-context learning.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("list", help="list claim files")
    s.add_argument("paths", nargs="*")
    s.set_defaults(fn=cmd_list)
    s = sub.add_parser("validate", help="validate claim files (both profiles)")
    s.add_argument("paths", nargs="*")
    ledger_cli.add_reference_option(s)
    s.set_defaults(fn=cmd_validate)
    s = sub.add_parser(
        "run",
        help="train, measure and judge claims",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _run_options(s, "quick")
    s.set_defaults(fn=cmd_run)
    s = sub.add_parser(
        "nightly",
        help="run, then compare with a baseline run (compare.json, summary.md)",
        epilog=NIGHTLY_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _run_options(s, "nightly")
    s.add_argument(
        "--baseline",
        default="latest",
        help="a run folder, or 'latest': the newest earlier run of the "
        "profile under RESULTS/runs (default)",
    )
    _compare_options(s)
    s.set_defaults(fn=cmd_nightly)
    s = sub.add_parser("report", help="print a run's verdict table")
    s.add_argument("run")
    s.set_defaults(fn=cmd_report)
    s = sub.add_parser(
        "compare",
        help="compare a baseline run A with a new run B: verdict flips and drifts",
        epilog=COMPARE_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("a", help="baseline run folder")
    s.add_argument("b", help="new run folder")
    _compare_options(s)
    s.add_argument("--json", default=None, help="also write the comparison as JSON to this file")
    s.set_defaults(fn=cmd_compare)
    s = sub.add_parser("history", help="verdicts and exponents across runs (nightly view)")
    s.add_argument("runs", nargs="*")
    s.add_argument("--results", default=str(results_root()))
    _compare_options(s, fail_on=False)
    s.set_defaults(fn=cmd_history)
    s = sub.add_parser(
        "fuzz", help="fuzz the theory's assumptions: robustness sweep, Hypothesis campaign, report"
    )
    add_fuzz_arguments(s)
    s.set_defaults(fn=cmd_fuzz)
    ledger_cli.add_parser(sub)
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
