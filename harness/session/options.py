"""The run's options, declared once: one table feeds argparse (`iclcheck run`, `nightly`) and
pytest's `addoption` (`--iclcheck-...`), and both build the same typed `RunOptions` from it.

An `Option` names its `RunOptions` field, its flag (`--device` on the command line,
`--iclcheck-device` under pytest), its help, default, type and choices, and where it applies
(`cli`, `pytest` or both: pytest has its own `-k` and paths, the command line has no `--no-report`).
Nothing here imports torch or the training stack, so `--help` and a pytest run that never asks for
claims stay light. The argparse Namespace and pytest's config stop at the layer that parses them:
below it only `RunOptions` travels."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.choices import EXECUTORS, FAMILIES, PROFILES

PYTEST_PREFIX = "iclcheck-"  # --device on the command line is --iclcheck-device under pytest


@dataclass(frozen=True)
class Option:
    """One run option: its RunOptions field, flag, help, and how it parses."""

    field: str
    help: str
    default: Any = None
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    flag: bool = False  # store_true
    metavar: str | None = None
    where: frozenset[str] = frozenset({"cli", "pytest"})
    short: str | None = None  # a one-letter flag (-k), command line only

    @property
    def long(self) -> str:
        return "--" + self.field.replace("_", "-")

    def flag_for(self, prefix: str = "") -> str:
        """The flag as a front end spells it: `--device`, or `--iclcheck-device` under pytest."""
        return f"--{prefix}{self.long[2:]}"

    def add_to(self, add: Callable[..., Any], prefix: str = "", default: Any = None) -> None:
        """Register on an argparse parser (add_argument) or a pytest group (addoption)."""
        kw: dict[str, Any] = {"help": self.help}
        if self.flag:
            kw.update(action="store_true")
        else:
            kw["default"] = self.default if default is None else default
            if self.type is not None:
                kw["type"] = self.type
            if self.choices is not None:
                kw["choices"] = self.choices
            if self.metavar is not None:
                kw["metavar"] = self.metavar
        names = [self.flag_for(prefix)]
        if self.short and not prefix:
            names = [self.short]
            kw["dest"] = self.field
        add(*names, **kw)


def _opt(field: str, help: str, **kw: Any) -> Option:
    where = kw.pop("where", ("cli", "pytest"))
    if kw.get("flag"):
        kw.setdefault("default", False)
    return Option(field, help, where=frozenset(where), **kw)


RUN_OPTIONS: tuple[Option, ...] = (
    _opt(
        "profile",
        "claim profile: quick (minutes on a laptop) or nightly (the full grids); "
        "default quick (nightly for `iclcheck nightly`)",
        choices=PROFILES,
        default="quick",
    ),
    _opt(
        "regime",
        "the setting every claim runs under: default (the claim files' own) or a regime of "
        "claims/_regimes.toml, e.g. paper (calibrated on the paper's figures)",
        default="default",
        metavar="NAME",
    ),
    _opt("device", "cpu, cuda or cuda:N", default="cpu", metavar="NAME"),
    _opt(
        "executor",
        "where ensembles train: local (this process), process (a pool of --jobs), dask",
        choices=EXECUTORS,
        default="local",
    ),
    _opt(
        "jobs",
        "workers for the process and dask executors (dask on --device cuda: one per GPU)",
        type=int,
        default=1,
        metavar="N",
    ),
    _opt(
        "address",
        "Dask scheduler address (default: a local cluster on 127.0.0.1)",
        metavar="HOST:PORT",
    ),
    _opt(
        "results",
        "results folder: the store and the run folders (default $ICLCHECK_RESULTS, else results/)",
        metavar="DIR",
    ),
    _opt(
        "out",
        "report folder (default RESULTS/runs/<time>-<profile>)",
        where=("cli",),
        metavar="DIR",
    ),
    _opt(
        "max_ensemble",
        "most models trained together in one batched ensemble (default %(default)s)",
        type=int,
        default=64,
        metavar="N",
    ),
    _opt(
        "family",
        "family-wise control of refutations across the claims: holm (default) or bh",
        choices=FAMILIES,
        default="holm",
    ),
    _opt("k", "only claims whose id contains TEXT", short="-k", where=("cli",), metavar="TEXT"),
    _opt("strict", "INCONCLUSIVE fails too (the run's exit code, a pytest failure)", flag=True),
    _opt("no_progress", "no plan and no progress lines", flag=True, where=("cli",)),
    _opt(
        "dry_run",
        "print the plan (claims; models to train, to measure, to reuse; estimated time) and exit "
        "0 without training",
        flag=True,
    ),
    _opt("no_report", "do not write a run report", flag=True, where=("pytest",)),
    _opt(
        "reuse_stale",
        "reuse stored records written by other code (another code fingerprint) instead of "
        "retraining; the report names every claim that did",
        flag=True,
    ),
    _opt(
        "multiverse",
        "also judge every claim under each applicable alternative of the multiverse file "
        "(ROBUST / FRAGILE / CONTINGENT / PARTIAL per claim)",
        flag=True,
    ),
    _opt(
        "multiverse_file",
        "the multiverse file (default: _multiverse.toml beside the claim files, else in claims/)",
        metavar="FILE",
    ),
    _opt(
        "multiverse_only",
        "with --multiverse: only these alternatives (the size knob, e.g. beta-3,steps-3x)",
        metavar="NAME[,NAME...]",
    ),
)


@dataclass(frozen=True)
class RunOptions:
    """Everything a claim run is asked to do, parsed; built by the CLI or the pytest plugin."""

    paths: tuple[str, ...] = ()
    profile: str = "quick"
    regime: str = "default"
    device: str = "cpu"
    executor: str = "local"
    jobs: int = 1
    address: str | None = None
    results: Path = Path("results")
    out: Path | None = None
    max_ensemble: int = 64
    family: str = "holm"
    k: str | None = None
    strict: bool = False
    progress: bool = True
    dry_run: bool = False
    write_report: bool = True
    reuse_stale: bool = False
    multiverse: bool = False
    multiverse_file: Path | None = None
    multiverse_only: tuple[str, ...] = ()

    @classmethod
    def from_values(
        cls, get: Callable[[Option], Any], results_base: Path = Path("."), **given: Any
    ) -> RunOptions:
        """From each table option's parsed value (`get`) and fields the caller knows (`given`:
        the paths); no --results means $ICLCHECK_RESULTS, else results/ under `results_base`."""
        from harness.run.paths import results_root

        out: dict[str, Any] = {}
        for o in RUN_OPTIONS:
            value = get(o)
            if o.field == "no_progress":
                out["progress"] = not value
            elif o.field == "no_report":
                out["write_report"] = not value
            elif o.field in ("out", "multiverse_file", "results"):
                out[o.field] = Path(value) if value else None
            elif o.field == "multiverse_only":
                out[o.field] = tuple(n.strip() for n in (value or "").split(",") if n.strip())
            else:
                out[o.field] = value
        out["results"] = out.get("results") or results_root(results_base)
        return cls(**{k: v for k, v in {**out, **given}.items() if k in _FIELDS})


_FIELDS = {f.name for f in dataclasses.fields(RunOptions)}


def options_for(where: str) -> tuple[Option, ...]:
    return tuple(o for o in RUN_OPTIONS if where in o.where)


def add_argparse_options(
    parser: argparse.ArgumentParser, defaults: dict[str, Any] | None = None
) -> None:
    """The run options on an argparse (sub)parser; `defaults` overrides a default by field."""
    for o in options_for("cli"):
        o.add_to(parser.add_argument, default=(defaults or {}).get(o.field))


def add_pytest_options(group: Any) -> None:
    """The run options on a pytest option group, each flag prefixed with `--iclcheck-`."""
    for o in options_for("pytest"):
        if o.field == "profile":  # under pytest an explicit profile also turns the plugin on
            o = dataclasses.replace(o, default=None, help=o.help + "; implies --iclcheck")
        o.add_to(group.addoption, prefix=PYTEST_PREFIX)


def from_namespace(ns: argparse.Namespace, **given: Any) -> RunOptions:
    """RunOptions from a parsed command line (options pytest alone has take their default)."""
    return RunOptions.from_values(lambda o: getattr(ns, o.field, o.default), **given)


def from_pytest(getoption: Callable[[str], Any], **given: Any) -> RunOptions:
    """RunOptions from pytest's options (options the command line alone has take their default)."""

    def get(o: Option) -> Any:
        return getoption(o.flag_for(PYTEST_PREFIX)) if "pytest" in o.where else o.default

    return RunOptions.from_values(get, **given)
