"""`iclcheck nightly`'s parts around the run: finding the baseline, and publishing the comparison.

The run itself is `iclcheck run`'s (cli.run_and_report). Before it, the
baseline is found and checked, so a wrong `--baseline` fails in a second with
exit 2, not after an hour of training; after it, the comparison is written to
the new run folder (compare.json, summary.md) and, under GitHub Actions, to
the job summary ($GITHUB_STEP_SUMMARY).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from harness.core.jsonio import atomic_write_text
from harness.report.compare import Comparison, check_profiles, write_comparison
from harness.report.run_folders import latest_run, load_run

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
    problem = check_profiles(spec, run["meta"].get("profile"), profile, allow_mismatch)
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
