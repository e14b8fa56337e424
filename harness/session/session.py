"""`RunSession`: one claim run, from options to reports, for the command line and the pytest plugin.

    session = RunSession(options)          # options checked (UsageError: exit 2)
    claims = session.load()                # or the claims pytest collected
    session.prepare(claims)                # the multiverse plan, checked before anything trains
    result = session.execute()             # train what is missing, judge, family, multiverse
    report = session.write_report(result)  # report.md, report.html, verdicts.json, plots/

Every step that can refuse bad input runs before `execute`; after it, a failure is an
`InternalError` (exit 3). `RunResult` is what every caller reads: the claim runs, their verdicts,
the multiverse blocks and totals, and whether a verdict makes the run red."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.claims.claim import Claim
from harness.claims.multiverse_derive import Variant
from harness.claims.verdict import Verdict
from harness.session.checks import check_run_options
from harness.session.errors import InternalError, UsageError, one_line
from harness.session.multiverse import MultiverseTotals, plan_multiverse, run_multiverse_of
from harness.session.options import RunOptions

VERDICT_ORDER = ("CONFIRMED", "REFUTED", "INCONCLUSIVE", "ERROR")


def verdict_failed(v: Verdict, strict: bool = False) -> bool:
    """Whether a verdict makes a run red (a verdict its claim file records as expected does not)."""
    if v.matches_expectation:
        return False
    if v.verdict in ("ERROR", "REFUTED"):
        return True
    return strict and v.verdict == "INCONCLUSIVE"


@dataclass(frozen=True)
class RunResult:
    """A finished run: the claim runs (verdicts, records, counts), the multiverse, the meta."""

    options: RunOptions
    runs: list[Any]  # harness.run.runner.ClaimRun, in claim order
    multiverse: dict[str, dict] | None
    multiverse_totals: MultiverseTotals | None
    meta: dict[str, Any]
    seconds: float
    report: Path | None = field(default=None, compare=False)

    @property
    def verdicts(self) -> list[Verdict]:
        return [r.verdict for r in self.runs]

    @property
    def failed(self) -> bool:
        return any(verdict_failed(v, self.options.strict) for v in self.verdicts)

    def counts(self) -> dict[str, int]:
        return {s: sum(v.verdict == s for v in self.verdicts) for s in VERDICT_ORDER}

    @property
    def run_dir(self) -> Path | None:
        """The run folder, once the report is written."""
        return self.report.parent if self.report else None

    def labels(self) -> dict[str, str] | None:
        """Claim id -> ROBUST / FRAGILE / CONTINGENT / PARTIAL, with --multiverse."""
        if self.multiverse is None:
            return None
        return {c: b["label"] for c, b in self.multiverse.items()}


def _stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr)


class RunSession:
    """The pipeline of one claim run; the command line and the pytest plugin both drive it."""

    def __init__(self, options: RunOptions, log: Callable[[str], None] | None = None):
        check_run_options(options)  # bad options fail here, before anything else
        self.options = options
        self.log = log
        self.claims: list[Claim] = []
        self.variants: dict[str, list[Variant]] | None = None
        self.started = dt.datetime.now(dt.UTC)
        self.t0 = time.perf_counter()

    def load(self) -> list[Claim]:
        """The selected claim files (paths, profile, -k), validated (ClaimError: exit 2)."""
        from harness.loading import load_claims
        from harness.run.paths import claims_dir

        o = self.options
        claims = load_claims(list(o.paths) or [claims_dir()], o.profile, o.k, regime=o.regime)
        if not claims:
            raise UsageError("no claim matches")
        return claims

    def prepare(self, claims: list[Claim]) -> None:
        """Fix the claims to run and check the multiverse plan, before anything trains."""
        self.claims = list(claims)
        self.variants = plan_multiverse(self.options, self.claims)

    def plan_summary(self):
        """The run's plan against its store, before anything runs (harness.run.run_plan_text)."""
        from harness.run.paths import store_root
        from harness.run.run_plan_text import summarize
        from harness.run.runner import plan_with_controls
        from harness.run.store import Store

        o = self.options
        plan = plan_with_controls(self.claims, o.device)
        store = Store(store_root(o.results), self.log)
        return summarize(plan, store, [c.id for c in self.claims], o.max_ensemble, o.reuse_stale)

    def plan_lines(self) -> list[str]:
        """The plan in at most 100 columns, with the multiverse's size when it is asked for."""
        summary = self.plan_summary()
        lines = summary.lines()
        if self.variants is not None:
            lines += self.multiverse_plan_lines(summary.timings_from)
        return lines

    def multiverse_plan_lines(self, timings_from: int) -> list[str]:
        """Per alternative: what it trains beyond the store, the main run and earlier alternatives,
        what it only measures, and how long (harness.run.multiverse_plan_text)."""
        from harness.run.multiverse_plan_text import plan_alternatives, plan_lines
        from harness.run.paths import store_root
        from harness.run.runner import plan_with_controls
        from harness.run.store import Store

        o = self.options
        store = Store(store_root(o.results), self.log)
        main = plan_with_controls(self.claims, o.device).units
        plans = plan_alternatives(
            main, self.variants or {}, store, o.device, o.max_ensemble, o.reuse_stale
        )
        return plan_lines(plans, timings_from)

    def execute(self) -> RunResult:
        """Train what the store lacks, judge every claim, control the family, run the multiverse.
        A failure here is not bad input any more: InternalError (exit 3)."""
        from harness.training.runtime import RuntimeSettings

        RuntimeSettings.from_env().apply(self.options.device)
        try:
            return self._execute()
        except (InternalError, KeyboardInterrupt):
            raise
        except Exception as exc:  # after the pre-flight checks nothing is bad input any more
            raise InternalError(one_line(exc)) from exc

    def _execute(self) -> RunResult:
        from harness.report.claim_report import run_totals
        from harness.run.execution import make_executor
        from harness.run.runner import run_claims

        o = self.options
        if o.progress:
            for line in self.plan_lines():
                (self.log or _stderr)(line)
        ex = make_executor(o.executor, o.jobs, o.device, o.address)
        try:
            runs = run_claims(
                self.claims,
                o.results,
                ex,
                o.max_ensemble,
                progress=o.progress,
                family=o.family,
                log=self.log,
                reuse_stale=o.reuse_stale,
            )
            blocks, totals = (
                run_multiverse_of(o, runs, ex, self.variants)
                if self.variants is not None
                else (None, None)
            )
        finally:
            ex.close()
        seconds = time.perf_counter() - self.t0
        meta = {
            "profile": o.profile,
            "started": self.started.isoformat(),
            "seconds": seconds,
            "executor": o.executor,
            "family": o.family,
            "claims": [c.id for c in self.claims],
            "max_ensemble": o.max_ensemble,
            **run_totals(runs + [r.control for r in runs if r.control is not None]),
            **({"multiverse": totals.to_json()} if totals else {}),
        }
        return RunResult(o, runs, blocks, totals, meta, seconds)

    def write_report(self, result: RunResult) -> RunResult:
        """report.md, report.html, verdicts.json and plots/ in --out or a new run folder."""
        from harness.report.claim_report import claim_figures, write_report
        from harness.run.paths import new_run_dir, robustness_report_dir

        o = self.options
        try:
            out = o.out or new_run_dir(o.results, self.started, o.profile)
            path = write_report(
                out,
                result.verdicts,
                result.meta,
                o.device,
                claim_figures(result.runs),
                robustness=robustness_report_dir(o.results),
                multiverse=result.multiverse,
            )
        except Exception as exc:
            raise InternalError(one_line(exc)) from exc
        return dataclasses.replace(result, report=path)
