"""pytest plugin: claim files as tests, when asked for.

    pytest claims --iclcheck [--iclcheck-profile quick]

Collects every claim file under a `claims/` folder only when the run asks for
it: `--iclcheck`, an explicit `--iclcheck-profile`, or `iclcheck_claims = true`
in the ini file; otherwise a project that merely has the package installed sees
nothing. The selected claims (after -k, --lf and deselection) are trained and
judged together at the first claim test, with the same family-wise control of
refutations as the CLI (Holm; `--iclcheck-family bh`); each test then reports
its claim's adjusted verdict: CONFIRMED passes; REFUTED and ERROR fail;
INCONCLUSIVE is skipped (fails with --iclcheck-strict); a verdict that matches
the claim's recorded expectation is an expected failure carrying its reason.
At the end of the session the Markdown report is written under RESULTS/runs/.

`--iclcheck-multiverse` (with `--iclcheck-multiverse-only NAME,...` as the size
knob) also judges every selected claim under each applicable alternative of
`claims/_multiverse.toml`, as `iclcheck run --multiverse` does: each claim test
carries its ROBUST / FRAGILE / PARTIAL label (a user property, and the terminal
summary), the report holds the multiverse tables, and the labels never change a
test's outcome, as they never change the CLI's exit code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import pytest

from harness.claims.schema import PROFILES, ClaimError
from harness.claims.verdicts import Verdict
from harness.loading import load_claims
from harness.preflight import UsageError, check_run_options
from harness.report import terminal
from harness.run.execution import EXECUTORS, make_executor
from harness.run.paths import new_run_dir, results_root, robustness_report_dir
from harness.run.runner import ClaimRun, run_claims
from harness.training.runtime import RuntimeSettings


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("iclcheck", "claim verification (icl-claimcheck)")
    g.addoption(
        "--iclcheck", action="store_true", help="collect claim files under claims/ folders as tests"
    )
    g.addoption(
        "--iclcheck-profile",
        choices=PROFILES,
        default=None,
        help="claim profile to run (default quick; implies --iclcheck)",
    )
    g.addoption(
        "--iclcheck-results",
        default=None,
        help="results folder (store and reports; default $ICLCHECK_RESULTS, else results/ under the rootdir)",
    )
    g.addoption("--iclcheck-device", default="cpu", help="cpu or cuda[:N]")
    g.addoption("--iclcheck-executor", choices=EXECUTORS, default="local")
    g.addoption(
        "--iclcheck-jobs",
        type=int,
        default=1,
        help="workers for the process/dask executors (dask on cuda: one per GPU)",
    )
    g.addoption(
        "--iclcheck-address",
        default=None,
        help="Dask scheduler address (default: a LocalCluster on 127.0.0.1)",
    )
    g.addoption(
        "--iclcheck-max-ensemble",
        type=int,
        default=64,
        help="most members trained together in one group (one task)",
    )
    g.addoption(
        "--iclcheck-family",
        choices=("holm", "bh"),
        default="holm",
        help="family-wise control across the selected claims",
    )
    g.addoption(
        "--iclcheck-strict", action="store_true", help="INCONCLUSIVE fails instead of skipping"
    )
    g.addoption("--iclcheck-no-report", action="store_true", help="do not write a run report")
    g.addoption(
        "--iclcheck-multiverse",
        action="store_true",
        help="also judge every selected claim under each applicable multiverse alternative (ROBUST / FRAGILE / PARTIAL)",
    )
    g.addoption(
        "--iclcheck-multiverse-only",
        default=None,
        metavar="NAME[,NAME...]",
        help="with --iclcheck-multiverse: only these alternatives",
    )
    g.addoption(
        "--iclcheck-multiverse-file",
        default=None,
        help="the multiverse file (default: claims/_multiverse.toml)",
    )
    parser.addini(
        "iclcheck_claims",
        type="bool",
        default=False,
        help="collect claim files under claims/ folders as tests",
    )


def enabled(config: pytest.Config) -> bool:
    """Whether this run collects claim files: --iclcheck, an explicit --iclcheck-profile, or the ini
    setting."""
    return bool(
        config.getoption("--iclcheck")
        or config.getoption("--iclcheck-profile")
        or config.getini("iclcheck_claims")
    )


def profile(config: pytest.Config) -> str:
    return config.getoption("--iclcheck-profile") or "quick"


class ClaimVerdictError(Exception):
    def __init__(self, verdict: Verdict):
        super().__init__(verdict.line())
        self.verdict = verdict


def _describe(v: Verdict) -> str:
    lines = [
        f"{v.claim_id}: {v.verdict}",
        f"  source:      {v.source}",
        f"  prediction:  {v.prediction}",
        f"  measurement: {v.measurement}",
        f"  over:        {v.over}",
    ]
    lines += [f"  note:        {n}" for n in v.notes]
    return "\n".join(lines)


def _skip_here(reason: str) -> None:
    """Skip, reported at the claim file (`SKIPPED [1] claims/x.toml:1: reason`) rather than at this
    plugin's line in site-packages, whose path alone can be wider than the terminal; plain
    pytest.skip where pytest lacks the option."""
    try:
        exc = pytest.skip.Exception(reason, _use_item_location=True)
    except TypeError:
        pytest.skip(reason)
    raise exc


class ClaimFile(pytest.File):
    def collect(self):
        try:
            (claim,) = load_claims([self.path], profile(self.config))
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
        v = state.verdict(self)
        self.user_properties.append(("verdict", v.verdict))
        if state.multiverse and self.claim.id in state.multiverse:
            self.user_properties.append(("robustness", state.multiverse[self.claim.id]["label"]))
        if v.expected and v.expected[0] == v.verdict:
            pytest.xfail(self._reason(f"recorded: {v.expected[1]}"))
        if v.verdict == "CONFIRMED":
            return
        if v.verdict == "INCONCLUSIVE" and not self.config.getoption("--iclcheck-strict"):
            # a refutation family control took back
            adjusted = [n for n in v.notes if "does not survive" in n]
            _skip_here(
                self._reason(
                    "INCONCLUSIVE: "
                    + (
                        adjusted[0]
                        if adjusted
                        else terminal.short_measurement(v.measurement, v.prediction)
                    )
                )
            )
        raise ClaimVerdictError(v)

    def _reason(self, text: str) -> str:
        """A SKIPPED / XFAIL reason cut so that pytest's summary line ("XFAIL <node id> - reason")
        fits the terminal; the report holds the whole measurement and reason."""
        # 'XFAIL ', ' - '
        return terminal.clip(text, max(10, terminal.width() - len(self.nodeid) - 10))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ClaimVerdictError):
            return _describe(excinfo.value.verdict)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, 0, f"claim {self.claim.id} ({self.claim.profile})"


def results_dir(config: pytest.Config) -> Path:
    """--iclcheck-results, else $ICLCHECK_RESULTS, else results/ under pytest's rootdir (the
    checkout)."""
    option = config.getoption("--iclcheck-results")
    return Path(option) if option else results_root(config.rootpath)


class _State:
    """The session's claim runs: all selected claims judged at once (family-controlled), then read
    item by item."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.results = results_dir(config)
        # every claim run, in item order: the verdicts, the report's figures and totals
        self.runs: list[ClaimRun] | None = None
        self.by_item: dict[str, Verdict] = {}
        # claim id -> multiverse block, with --iclcheck-multiverse
        self.multiverse: dict[str, dict] | None = None
        self.multiverse_totals: dict | None = None
        self.error: BaseException | None = None
        self.started = dt.datetime.now(dt.UTC)
        self.t0 = time.perf_counter()

    @property
    def verdicts(self) -> list[Verdict]:
        return [r.verdict for r in self.runs or []]

    def verdict(self, item: ClaimItem) -> Verdict:
        """The item's adjusted verdict; the first call trains and judges every selected claim."""
        if self.runs is None and self.error is None:
            self._judge_all([i for i in item.session.items if isinstance(i, ClaimItem)])
        if self.error is not None:
            raise self.error
        return self.by_item[item.nodeid]

    def _multiverse_options(self) -> argparse.Namespace:
        """The options multiverse_cli reads, from the plugin's."""
        o = self.config.getoption
        return argparse.Namespace(
            multiverse=o("--iclcheck-multiverse"),
            multiverse_file=o("--iclcheck-multiverse-file"),
            multiverse_only=o("--iclcheck-multiverse-only"),
            results=self.results,
            max_ensemble=o("--iclcheck-max-ensemble"),
            no_progress=True,
            reuse_stale=False,
        )

    def _judge_all(self, items: list[ClaimItem]) -> None:
        from harness import multiverse_cli

        o = self.config.getoption
        claims = [i.claim for i in items]
        mv_opts = self._multiverse_options()
        try:
            mv_plan = multiverse_cli.prepare(mv_opts, claims)  # validated before anything trains
        except (ClaimError, UsageError) as exc:
            self.error = exc
            return
        ex = make_executor(
            o("--iclcheck-executor"),
            o("--iclcheck-jobs"),
            o("--iclcheck-device"),
            o("--iclcheck-address"),
        )
        try:
            self.runs = run_claims(
                claims,
                self.results,
                ex,
                o("--iclcheck-max-ensemble"),
                progress=False,
                family=o("--iclcheck-family"),
            )
            if mv_plan is not None:
                self.multiverse, self.multiverse_totals = multiverse_cli.run(
                    mv_opts, self.runs, ex, mv_plan
                )
        except Exception as exc:  # every claim test reports it
            self.error = exc
            return
        finally:
            ex.close()
        self.by_item = {i.nodeid: r.verdict for i, r in zip(items, self.runs)}


_STATE = pytest.StashKey[_State]()


def check_options(config: pytest.Config) -> None:
    """The CLI's pre-flight checks of the run options (device exists, --iclcheck-address only with
    the dask executor and answering, jobs and ensemble size >= 1, results writable), as a pytest
    usage error."""
    o = config.getoption
    opts = argparse.Namespace(
        device=o("--iclcheck-device"),
        jobs=o("--iclcheck-jobs"),
        max_ensemble=o("--iclcheck-max-ensemble"),
        executor=o("--iclcheck-executor"),
        address=o("--iclcheck-address"),
        results=results_dir(config),
        out=None,
    )
    try:
        check_run_options(opts)
    except UsageError as exc:
        raise pytest.UsageError(str(exc).replace("--", "--iclcheck-", 1)) from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "claim: a claim file of the paper, judged by icl-claimcheck")
    if enabled(config):
        check_options(config)
        config.stash[_STATE] = _State(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The process-wide runtime settings (deterministic algorithms, allocator, threads, compile), as
    the CLI sets them."""
    if enabled(session.config):
        RuntimeSettings.from_env().apply(session.config.getoption("--iclcheck-device"))


def pytest_collect_file(file_path: Path, parent):
    if (
        enabled(parent.config)
        and file_path.suffix == ".toml"
        and file_path.parent.name == "claims"
        and not file_path.name.startswith("_")
    ):
        return ClaimFile.from_parent(parent, path=file_path)
    return None


def pytest_sessionfinish(session, exitstatus) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None or not state.verdicts or session.config.getoption("--iclcheck-no-report"):
        return
    from harness.report.claim_report import claim_figures, run_totals, write_report

    o = session.config.getoption
    out = new_run_dir(state.results, state.started, profile(session.config))
    meta = {
        "profile": profile(session.config),
        "started": state.started.isoformat(),
        "seconds": time.perf_counter() - state.t0,
        "executor": o("--iclcheck-executor"),
        "family": o("--iclcheck-family"),
        "claims": [v.claim_id for v in state.verdicts],
        "max_ensemble": o("--iclcheck-max-ensemble"),
        **run_totals(state.runs),
        **({"multiverse": state.multiverse_totals} if state.multiverse_totals else {}),
    }
    state.report = write_report(
        out,
        state.verdicts,
        meta,
        o("--iclcheck-device"),
        claim_figures(state.runs),
        robustness=robustness_report_dir(state.results),
        multiverse=state.multiverse,
    )


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or not state.verdicts:
        return
    tr = terminalreporter
    tr.section("claim verdicts")
    mv = state.multiverse
    tr.write_line(
        terminal.verdict_table(
            state.verdicts,
            robustness={c: b["label"] for c, b in mv.items()} if mv is not None else None,
        )
    )
    if state.multiverse_totals:
        from harness import multiverse_cli

        tr.write_line(multiverse_cli.summary_line(state.multiverse_totals))
        for cid, block in mv.items():  # the table gives the label; name what flips it
            if block["flips"]:
                verdict_of = {r["name"]: r["verdict"] for r in block["alternatives"]}
                tr.write_line(
                    f"  {cid} flipped by: "
                    + ", ".join(f"{n} -> {verdict_of.get(n)}" for n in block["flips"])
                )
    if getattr(state, "report", None):
        tr.write_line(f"report: {terminal.short_path(state.report)}")
