"""pytest plugin: every claim file under a `claims/` folder is a test.

    pytest claims --iclcheck-profile quick

Outcome follows the verdict: CONFIRMED passes; REFUTED and ERROR fail;
INCONCLUSIVE is skipped (fails with --iclcheck-strict); a verdict that matches
the claim's recorded expectation is an expected failure carrying its reason.
Refutations are judged with Bonferroni over the collected claims (family-wise
control when claims are judged one at a time). At the end of the session the
Markdown report is written under RESULTS/runs/. `-k`, `-x` and `--lf` work as
for any test.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from harness.claims.schema import PROFILES, ClaimError
from harness.loading import load_claims
from harness.run.execution import EXECUTORS, Executor, make_executor
from harness.run.paths import results_root, robustness_report_dir, store_root
from harness.run.runner import ClaimRun, run_claim
from harness.run.store import Store
from harness.claims.verdicts import Verdict, family_control


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("iclcheck", "claim verification (icl-claimcheck)")
    g.addoption("--iclcheck-profile", choices=PROFILES, default="quick", help="claim profile to run (default quick)")
    g.addoption("--iclcheck-results", default=None,
                help="results folder (store and reports; default $ICLCHECK_RESULTS, else results/ under the rootdir)")
    g.addoption("--iclcheck-device", default="cpu", help="cpu or cuda[:N]")
    g.addoption("--iclcheck-executor", choices=EXECUTORS, default="local")
    g.addoption("--iclcheck-jobs", type=int, default=1)
    g.addoption("--iclcheck-strict", action="store_true", help="INCONCLUSIVE fails instead of skipping")
    g.addoption("--iclcheck-no-report", action="store_true", help="do not write a run report")


class ClaimVerdictError(Exception):
    def __init__(self, verdict: Verdict):
        super().__init__(verdict.line())
        self.verdict = verdict


def _describe(v: Verdict) -> str:
    lines = [f"{v.claim_id}: {v.verdict}", f"  source:      {v.source}", f"  prediction:  {v.prediction}",
             f"  measurement: {v.measurement}", f"  over:        {v.over}"]
    lines += [f"  note:        {n}" for n in v.notes]
    return "\n".join(lines)


class ClaimFile(pytest.File):
    def collect(self):
        profile = self.config.getoption("--iclcheck-profile")
        try:
            (claim,) = load_claims([self.path], profile)
        except ClaimError as exc:
            raise self.CollectError(str(exc)) from None
        yield ClaimItem.from_parent(self, name=claim.id, claim=claim)


class ClaimItem(pytest.Item):
    def __init__(self, *, claim, **kw):
        super().__init__(**kw)
        self.claim = claim
        self.add_marker(pytest.mark.claim)

    def runtest(self) -> None:
        state = self.config.stash[_STATE]
        run = run_claim(self.claim, state.store, state.executor(), progress=False)
        v = family_control([run.verdict], family_size=state.n_items)[0]
        state.verdicts.append(v)
        state.runs.append(run)
        self.user_properties.append(("verdict", v.verdict))
        if v.expected and v.expected[0] == v.verdict:
            pytest.xfail(f"{v.verdict} as recorded: {v.expected[1]} | {v.measurement}")
        if v.verdict == "CONFIRMED":
            return
        if v.verdict == "INCONCLUSIVE" and not self.config.getoption("--iclcheck-strict"):
            pytest.skip(f"INCONCLUSIVE: measured {v.measurement} | predicted {v.prediction} | {'; '.join(v.notes)}")
        raise ClaimVerdictError(v)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ClaimVerdictError):
            return _describe(excinfo.value.verdict)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, 0, f"claim {self.claim.id} ({self.claim.profile})"


def results_dir(config: pytest.Config) -> Path:
    """--iclcheck-results, else $ICLCHECK_RESULTS, else results/ under pytest's rootdir (the checkout)."""
    option = config.getoption("--iclcheck-results")
    return Path(option) if option else results_root(config.rootpath)


class _State:
    def __init__(self, config: pytest.Config):
        self.config = config
        self.results = results_dir(config)
        self.store = Store(store_root(self.results))
        self.verdicts: list[Verdict] = []
        self.runs: list[ClaimRun] = []  # every claim run: the report's figures and totals
        self.n_items = 1
        self._executor: Executor | None = None
        self.started = dt.datetime.now(dt.timezone.utc)
        self.t0 = time.perf_counter()

    def executor(self) -> Executor:
        if self._executor is None:
            o = self.config.getoption
            self._executor = make_executor(o("--iclcheck-executor"), o("--iclcheck-jobs"), o("--iclcheck-device"))
        return self._executor


_STATE = pytest.StashKey[_State]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE] = _State(config)
    config.addinivalue_line("markers", "claim: a claim file of the paper, judged by icl-claimcheck")


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".toml" and file_path.parent.name == "claims" and not file_path.name.startswith("_"):
        return ClaimFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(session, config, items) -> None:
    config.stash[_STATE].n_items = max(1, sum(isinstance(i, ClaimItem) for i in items))


def pytest_sessionfinish(session, exitstatus) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None:
        return
    if state._executor is not None:
        state._executor.close()
    if not state.verdicts or session.config.getoption("--iclcheck-no-report"):
        return
    from harness.report.claim_report import claim_figures, run_totals, write_report

    o = session.config.getoption
    out = state.results / "runs" / f"{state.started:%Y%m%dT%H%M%SZ}-{o('--iclcheck-profile')}"
    meta = {"profile": o("--iclcheck-profile"), "started": state.started.isoformat(), "seconds": time.perf_counter() - state.t0,
            "executor": o("--iclcheck-executor"), "family": f"bonferroni over {state.n_items} claims",
            "claims": [v.claim_id for v in state.verdicts], **run_totals(state.runs)}
    state.report = write_report(out, state.verdicts, meta, o("--iclcheck-device"), claim_figures(state.runs),
                                robustness=robustness_report_dir(state.results))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or not state.verdicts:
        return
    from harness.report.claim_report import summary_table

    tr = terminalreporter
    tr.section("claim verdicts")
    tr.write_line(summary_table(state.verdicts, fmt="simple"))
    if getattr(state, "report", None):
        tr.write_line(f"report: {state.report}")
