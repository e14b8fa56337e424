"""Command line: `iclcheck {list, validate, run, nightly, report, compare, history, ledger, fuzz}`.

One module per command (harness.cli.<name>), each exporting a `COMMAND` (harness.cli.base): its
help, its arguments and what it runs. Commands import what they need (torch, matplotlib, dask,
hypothesis) when they run, not when the parser is built, so `iclcheck --help` and every
subcommand's `--help` work in any environment the package installs into. Exit codes
(harness.session.errors): 0 every verdict as expected; 1 an unexpected REFUTED or ERROR (with
--strict, INCONCLUSIVE too); 2 bad input, one line "error: FILE: KEY: ...", always before any
training; 3 an internal error, one line naming the log file that holds the traceback."""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
import textwrap
from pathlib import Path

from harness.cli.base import HELP_WIDTH, Command, HelpFormatter
from harness.session.errors import (
    EXIT_BAD_INPUT,
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_OK,
    InternalError,
    one_line,
    write_error_log,
)

COMMANDS = (
    "list",
    "validate",
    "run",
    "nightly",
    "report",
    "compare",
    "history",
    "ledger",
    "fuzz",
    "calibrate",
)
DESCRIPTION = """\
Train, measure and judge the claims of Li et al. (ICML 2024), "How Do Nonlinear
Transformers Learn and Generalize in In-Context Learning?", against their predictions."""
EXAMPLES = (
    "iclcheck list                               the claim files and what each predicts",
    "iclcheck run -k prune                       run the claims whose id contains 'prune'",
    "iclcheck run --profile nightly              the full grids (hours on a laptop)",
    "iclcheck report results/runs/<run>          a finished run's verdict table",
    "iclcheck <command> --help                   one command's options and examples",
)


def command(name: str) -> Command:
    """The COMMAND of harness.cli.<name>."""
    return importlib.import_module(f"harness.cli.{name}").COMMAND


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("icl-claimcheck")
    except PackageNotFoundError:  # a checkout on sys.path, not installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iclcheck",
        description=DESCRIPTION,
        epilog="examples:\n" + "\n".join(f"  {e}" for e in EXAMPLES) + "\n\n" + EXIT_CODES,
        formatter_class=HelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"iclcheck {version()}")
    sub = p.add_subparsers(dest="cmd", metavar="<command>")
    for name in COMMANDS:
        c = command(name)
        s = sub.add_parser(
            c.name,
            help=c.help,
            description=textwrap.fill(c.description or c.help, HELP_WIDTH - 2),
            epilog=c.epilog(),
            formatter_class=HelpFormatter,
        )
        c.add_arguments(s)
        s.set_defaults(command=c.name)
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch, and map every outcome to its exit code (see EXIT_CODES)."""
    from harness.claims.errors import ClaimError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) is None:  # a bare `iclcheck`: the help, not a usage error
        parser.print_help()
        return EXIT_OK
    try:
        return command(args.command).run(args)
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
    from harness.run.paths import results_root

    log = write_error_log(exc, Path(getattr(args, "results", None) or results_root()))
    print(f"internal error: {one_line(exc)} (traceback in {log})", file=sys.stderr)
    return EXIT_INTERNAL
