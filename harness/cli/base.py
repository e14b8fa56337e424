"""What every command shares: the `Command` record each command module exports, the help layout
(at most 100 columns, examples and exit codes under each subcommand's options) and `warn`."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass

HELP_WIDTH = 100  # no help line needs a wider terminal


@dataclass(frozen=True)
class Command:
    """One subcommand: its name and help, how it adds its arguments and what it runs (-> exit)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    examples: tuple[str, ...] = ()
    exit_codes: str = ""
    description: str = ""

    def epilog(self) -> str:
        parts = []
        if self.examples:
            parts.append("examples:\n" + "\n".join(f"  {e}" for e in self.examples))
        if self.exit_codes:
            parts.append(self.exit_codes.rstrip())
        return "\n\n".join(parts)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's layout, capped at HELP_WIDTH columns; the epilog keeps its own line breaks."""

    def __init__(self, prog: str) -> None:
        cols = min(HELP_WIDTH, shutil.get_terminal_size((HELP_WIDTH, 24)).columns)
        super().__init__(prog, width=max(60, cols) - 2, max_help_position=30)


def add_claim_paths(s: argparse.ArgumentParser) -> None:
    """The claim files or folders a command reads (default: claims/)."""
    s.add_argument(
        "paths", nargs="*", metavar="PATH", help="claim files or folders (default: claims/)"
    )


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)
