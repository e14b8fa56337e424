"""`iclcheck nightly`: `run`, then the comparison with a baseline run, published.

Before the run the baseline is found and checked, so a wrong `--baseline` fails in a second with
exit 2, not after an hour of training; after it the comparison is written to the new run folder
(compare.json, summary.md) and, under GitHub Actions, to the job summary ($GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from harness.cli.base import Command, warn
from harness.cli.compare import add_compare_options, check_drift_z, show
from harness.cli.run import add_run_arguments, execute_and_print, prepare, run_options
from harness.core.jsonio import atomic_write_text
from harness.report.compare import Comparison, check_profiles, compare, write_comparison
from harness.report.run_folders import latest_run, load_run
from harness.session.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERNAL, EXIT_OK

EXIT_CODES = f"""exit codes:
  {EXIT_OK}  every verdict as expected, and no failure by --fail-on against the baseline
  {EXIT_FAILED}  an unexpected REFUTED or ERROR verdict, or an unexpected flip against the
     baseline (per --fail-on)
  {EXIT_BAD_INPUT}  bad input, before any training: a claim file, an option, an unreadable
     --baseline folder, a baseline of another profile (without --allow-mismatch)
  {EXIT_INTERNAL}  internal error: one line names the log file holding the traceback
"""
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
LINKS = {"report": "report.md", "HTML report": "report.html", "compare.json": "compare.json"}


def resolve_baseline(
    spec: str,
    results: Path,
    profile: str,
    out: str | None,
    allow_mismatch: bool,
    warn: Callable[[str], None],
) -> Path | None:
    """The baseline run folder: for 'latest' the newest readable earlier run of `profile` under
    RESULTS/runs (None on a first night); otherwise the given folder, which must be a readable run
    (RunFolderError) of the same profile (RunMismatchError unless `allow_mismatch`)."""
    if spec == "latest":
        runs = Path(results) / "runs"
        found = latest_run(runs, profile, exclude=out, warn=warn)
        if found is None:
            warn(
                f"no earlier '{profile}' run under {runs}: nothing to compare against (first "
                "night?)"
            )
        return found
    run = load_run(spec)
    problem = check_profiles(spec, run.meta.get("profile"), profile, allow_mismatch)
    if problem:
        warn(problem)
    return Path(spec)


def no_baseline_markdown(profile: str, results: Path, links: dict[str, str] | None = None) -> str:
    """The summary of a night with nothing to compare against."""
    text = (
        f"## iclcheck: profile `{profile}`\n\nNo earlier `{profile}` run under "
        f"`{Path(results) / 'runs'}`: "
        "verdicts only, nothing compared.\n"
    )
    return text + (
        "\nLinks: " + ", ".join(f"[{k}]({v})" for k, v in links.items()) + "\n" if links else ""
    )


def publish(cmp: Comparison | None, run_dir: Path, profile: str, results: Path) -> str:
    """Write compare.json (when there is a comparison) and summary.md into the run folder, append
    the summary to $GITHUB_STEP_SUMMARY when it is set; returns the Markdown."""
    if cmp is None:
        text = no_baseline_markdown(
            profile, results, {k: v for k, v in LINKS.items() if k != "compare.json"}
        )
        atomic_write_text(Path(run_dir) / "summary.md", text)
        plain = no_baseline_markdown(profile, results)
    else:
        write_comparison(cmp, run_dir, LINKS)
        text, plain = cmp.to_markdown(LINKS), cmp.to_markdown()
    step = os.environ.get(STEP_SUMMARY_ENV)
    if step:  # in the job summary relative links would not resolve: the run folder's path instead
        with open(step, "a", encoding="utf-8") as f:
            f.write(plain + f"\nRun folder: `{run_dir}` (report.md, report.html, compare.json)\n\n")
    return text


def add_arguments(s: argparse.ArgumentParser) -> None:
    add_run_arguments(s, profile="nightly")
    s.add_argument(
        "--baseline",
        default="latest",
        metavar="RUN",
        help="a run folder, or 'latest': the newest earlier run of the profile under "
        "RESULTS/runs (default)",
    )
    add_compare_options(s)


def run(a: argparse.Namespace) -> int:
    """`run`, then compare with the baseline (checked before training), then publish."""
    check_drift_z(a.drift_z)
    options = run_options(a)
    session = prepare(options)
    baseline = resolve_baseline(
        a.baseline,
        options.results,
        options.profile,
        str(options.out) if options.out else None,
        a.allow_mismatch,
        warn,
    )
    if options.dry_run:
        print("\n".join(session.plan_lines()))
        return 0
    result = execute_and_print(session)
    out = result.run_dir
    cmp = compare(baseline, out, a.drift_z, a.allow_mismatch) if baseline else None
    if cmp:
        print(f"\nagainst baseline {baseline}:")
        show(cmp)
    publish(cmp, out, options.profile, options.results)
    print(f"summary: {out / 'summary.md'}")
    failed = result.failed or (cmp is not None and cmp.failed(a.fail_on))
    return EXIT_FAILED if failed else EXIT_OK


COMMAND = Command(
    name="nightly",
    help="run, then compare with a baseline run (compare.json, summary.md)",
    add_arguments=add_arguments,
    run=run,
    examples=(
        "iclcheck nightly                            nightly profile against the latest run",
        "iclcheck nightly --baseline results/reference/nightly-cpu --fail-on any-change",
    ),
    exit_codes=EXIT_CODES,
)
