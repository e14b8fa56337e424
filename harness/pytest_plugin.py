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
carries its ROBUST / FRAGILE / CONTINGENT / PARTIAL label (a user property, and the terminal
summary), the report holds the multiverse tables, and the labels never change a
test's outcome, as they never change the CLI's exit code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.session.options import add_pytest_options, from_pytest

# Nothing above imports torch: a pytest run that never asks for claims stays as light as before.


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("iclcheck", "claim verification (icl-claimcheck)")
    g.addoption(
        "--iclcheck", action="store_true", help="collect claim files under claims/ folders as tests"
    )
    add_pytest_options(g)  # the run options the command line has too (harness.session.options)
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


def run_options(config: pytest.Config):
    """The session's RunOptions, from the --iclcheck-* options (results default: under the
    rootdir)."""
    return from_pytest(
        config.getoption, results_base=config.rootpath, profile=profile(config), progress=False
    )


class ClaimVerdictError(Exception):
    def __init__(self, verdict):
        super().__init__(verdict.line())
        self.verdict = verdict


def _describe(v) -> str:
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
        from harness.claims.errors import ClaimError
        from harness.loading import load_claims

        try:
            (claim,) = load_claims(
                [self.path],
                profile(self.config),
                regime=self.config.getoption("--iclcheck-regime"),
            )
        except ClaimError as exc:
            raise self.CollectError(str(exc)) from None
        yield ClaimItem.from_parent(self, name=claim.id, claim=claim)


class ClaimItem(pytest.Item):
    def __init__(self, *, claim, **kw):
        super().__init__(**kw)
        self.claim = claim
        self.add_marker(pytest.mark.claim)

    def runtest(self) -> None:
        from harness.report import terminal

        state = self.config.stash[_STATE]
        if state.session.options.dry_run:
            state.dry_run(self)
            pytest.skip("dry run: nothing trained (the plan is in the terminal summary)")
        v = state.verdict(self)
        self.user_properties.append(("verdict", v.verdict))
        labels = state.result.labels() if state.result else None
        if labels and self.claim.id in labels:
            self.user_properties.append(("robustness", labels[self.claim.id]))
        if v.matches_expectation:
            pytest.xfail(self._reason(f"recorded: {v.expected[1]}"))
        if v.verdict == "CONFIRMED":
            return
        if v.verdict == "INCONCLUSIVE" and not state.session.options.strict:
            taken_back = v.family is not None and v.family.overturned
            _skip_here(
                self._reason(
                    "INCONCLUSIVE: "
                    + (
                        v.family.note(v.p_refute)
                        if taken_back
                        else f"vacuous: {v.control.line()}"
                        if v.vacuous and v.control
                        else terminal.short_measurement(v.measurement, v.prediction)
                    )
                )
            )
        raise ClaimVerdictError(v)

    def _reason(self, text: str) -> str:
        """A SKIPPED / XFAIL reason cut so that pytest's summary line ("XFAIL <node id> - reason")
        fits the terminal; the report holds the whole measurement and reason."""
        from harness.report import terminal

        # 'XFAIL ', ' - '
        return terminal.clip(text, max(10, terminal.width() - len(self.nodeid) - 10))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ClaimVerdictError):
            return _describe(excinfo.value.verdict)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, 0, f"claim {self.claim.id} ({self.claim.profile})"


class _State:
    """The session's claim run: one RunSession judges every selected claim at the first claim test
    (family-controlled together, as on the command line); each test then reads its verdict."""

    def __init__(self, session):
        self.session = session  # harness.session.session.RunSession
        self.result = None  # its RunResult, after the first claim test
        self.by_item: dict[str, object] = {}
        self.error: BaseException | None = None
        self.plan: list[str] | None = None  # --iclcheck-dry-run: the plan's lines

    def dry_run(self, item: ClaimItem) -> None:
        """The plan of every selected claim, once (nothing trains)."""
        if self.plan is None:
            self.session.prepare([i.claim for i in item.session.items if isinstance(i, ClaimItem)])
            self.plan = self.session.plan_lines()

    def verdict(self, item: ClaimItem):
        """The item's adjusted verdict; the first call trains and judges every selected claim."""
        if self.result is None and self.error is None:
            self._judge_all([i for i in item.session.items if isinstance(i, ClaimItem)])
        if self.error is not None:
            raise self.error
        return self.by_item[item.nodeid]

    def _judge_all(self, items: list[ClaimItem]) -> None:
        from harness.claims.errors import ClaimError
        from harness.session.errors import UsageError

        try:
            self.session.prepare([i.claim for i in items])  # checked before anything trains
        except (ClaimError, UsageError) as exc:
            self.error = exc
            return
        try:
            self.result = self.session.execute()
        except Exception as exc:  # every claim test reports it
            self.error = exc
            return
        self.by_item = {i.nodeid: v for i, v in zip(items, self.result.verdicts)}


_STATE = pytest.StashKey[_State]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "claim: a claim file of the paper, judged by icl-claimcheck")
    if enabled(config):
        config.stash[_STATE] = _State(check_options(config))


def check_options(config: pytest.Config):
    """The session's RunSession, built from the options: the CLI's pre-flight checks (device exists,
    --iclcheck-address only with the dask executor and answering, jobs and ensemble size >= 1,
    results writable) fail as a pytest usage error."""
    from harness.session.errors import UsageError
    from harness.session.session import RunSession

    try:
        return RunSession(run_options(config))
    except UsageError as exc:
        raise pytest.UsageError(str(exc).replace("--", "--iclcheck-", 1)) from None


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
    if state is None or state.result is None or not state.result.verdicts:
        return
    if state.session.options.write_report:
        state.result = state.session.write_report(state.result)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None and state.plan is not None:
        terminalreporter.section("claim plan (dry run)")
        for line in state.plan:
            terminalreporter.write_line(line)
        return
    if state is None or state.result is None or not state.result.verdicts:
        return
    from harness.session.summary import summary_lines

    terminalreporter.section("claim verdicts")
    for line in summary_lines(state.result):
        terminalreporter.write_line(line)
