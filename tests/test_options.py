"""One option table for the command line and the pytest plugin, typed RunOptions below both, and an
entry point that stays light: `iclcheck --help` and a pytest run without claims import no torch."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import build_parser
from harness.session import options as opts
from harness.session.options import RUN_OPTIONS, Option, RunOptions, from_namespace, from_pytest


def _help(parser, *argv: str) -> str:
    with pytest.raises(SystemExit):
        parser.parse_args([*argv, "--help"])
    return ""


def test_an_option_declared_once_is_on_the_command_line_and_under_pytest(
    monkeypatch, capsys, pytester
):
    new = Option("warmup_note", "a test option declared once", default="x")
    monkeypatch.setattr(opts, "RUN_OPTIONS", (*RUN_OPTIONS, new))
    _help(build_parser(), "run")
    assert "--warmup-note" in capsys.readouterr().out
    _help(build_parser(), "nightly")
    assert "--warmup-note" in capsys.readouterr().out
    result = pytester.runpytest_inprocess("--help")
    assert "--iclcheck-warmup-note" in result.stdout.str()


def test_both_front_ends_build_the_same_run_options(tmp_path):
    ns = build_parser().parse_args(
        ["run", "--device", "cpu", "--jobs", "3", "--family", "bh", "--results", str(tmp_path)]
        + ["--multiverse", "--multiverse-only", "beta-3, steps-3x", "--strict"]
    )
    cli = from_namespace(ns, paths=tuple(ns.paths))
    given = {
        "--iclcheck-jobs": 3,
        "--iclcheck-family": "bh",
        "--iclcheck-results": str(tmp_path),
        "--iclcheck-multiverse": True,
        "--iclcheck-multiverse-only": "beta-3,steps-3x",
        "--iclcheck-strict": True,
    }
    defaults = {o.flag_for(opts.PYTEST_PREFIX): o.default for o in RUN_OPTIONS}
    plugin = from_pytest(lambda name: given.get(name, defaults[name]), profile="quick")
    assert plugin == dataclasses.replace(cli, progress=True)  # --no-progress is the CLI's own
    assert cli.multiverse_only == ("beta-3", "steps-3x") and cli.jobs == 3
    assert isinstance(cli, RunOptions) and cli.results == tmp_path


def test_every_table_field_is_a_run_option_or_maps_to_one():
    fields = {f.name for f in dataclasses.fields(RunOptions)}
    mapped = {"no_progress": "progress", "no_report": "write_report"}
    assert all(mapped.get(o.field, o.field) in fields for o in RUN_OPTIONS)


@pytest.mark.parametrize(
    "code",
    [
        "import harness.cli; harness.cli.build_parser()",
        "import harness.pytest_plugin",
    ],
)
def test_the_entry_points_import_no_training_stack(code):
    heavy = ("torch", "hypothesis", "distributed", "matplotlib")
    probe = f"{code}; import sys; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out


def test_every_help_fits_100_columns_and_shows_examples(capsys):
    from harness.cli import COMMANDS

    for name in ("", *COMMANDS):
        _help(build_parser(), *([name] if name else []))
        text = capsys.readouterr().out
        wide = [line for line in text.splitlines() if len(line) > 100]
        assert not wide, (name, wide)
        assert "examples:" in text, name


@pytest.mark.parametrize("page", ["cli.md", "claim-files.md"])
def test_the_reference_pages_are_generated_from_the_code(page):
    from harness.cli.reference_docs import PAGES

    # the checkout's docs/, not the installed package's parent (tox installs a wheel)
    committed = (Path(__file__).resolve().parent.parent / "docs" / page).read_text()
    assert committed == PAGES[page](), (
        f"docs/{page} is stale: run `python -m harness.cli.reference_docs`"
    )


def test_the_readme_table_of_verdicts_is_generated_from_the_references():
    from harness.report.results_page import readme_with_table

    root = Path(__file__).resolve().parent.parent
    committed = (root / "README.md").read_text()
    assert committed == readme_with_table(committed, root), (
        "README.md's verdict table is stale: run `python -m harness.cli.reference_docs`"
    )
