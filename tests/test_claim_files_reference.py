"""docs/claim-files.md names every registered kind (with a working example), metric, grid axis,
eval key and named reading, so a claim can be written from it alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.claims.kinds import KINDS
from harness.claims.metrics import METRICS
from harness.claims.schema import EVAL_KEYS, load_claim
from harness.cli.reference_docs import claim_files_markdown
from harness.cli.setting_reference import field_meanings
from harness.measure.baselines import METHODS
from harness.measure.pruning import PRUNE_MODES
from harness.world.config import SAMPLINGS, DataConfig, ModelConfig, TrainConfig
from harness.world.mixtures import MIXTURE_FACTORS
from harness.world.patterns import OOD_READINGS

ROOT = Path(__file__).resolve().parent.parent
PAGE = claim_files_markdown()


def test_every_kind_and_metric_is_named():
    for name in KINDS.names():
        assert f"### `{name}`" in PAGE, name
    for name in METRICS.names():
        assert f"| `{name}` |" in PAGE, name
    for key in EVAL_KEYS:
        assert f"| `{key}` |" in PAGE, key


def test_every_grid_axis_is_named_with_its_meaning():
    for sec, cls in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)):
        meaning = field_meanings(cls)
        for f in dataclasses.fields(cls):
            assert f"| `{sec}.{f.name}` |" in PAGE, f.name
            assert meaning[f.name], f"{cls.__name__}.{f.name} has no comment saying what it is"
    for axis in ("prune.mode", "prune.fraction", "baseline.method"):
        assert f"| `{axis}` |" in PAGE


def test_every_named_reading_is_named():
    values = [*OOD_READINGS, *SAMPLINGS, *PRUNE_MODES, *METHODS, *MIXTURE_FACTORS.names()]
    for v in values:
        assert f"| `{v}` |" in PAGE, v


@pytest.mark.parametrize("kind", KINDS.names())
def test_each_kinds_example_is_a_valid_claim(kind, tmp_path):
    example = KINDS.get(kind).example
    assert example, f"kind {kind} has no example"
    assert example.strip() in PAGE
    d = tmp_path / "claims"
    d.mkdir()
    (d / "_base.toml").write_text((ROOT / "claims" / "_base.toml").read_text())
    head = (
        f'id = "ex-{kind}"\nsource = "s"\nstatement = "s"\nkind = "{kind}"\n'
        "[profiles.quick]\nreplicates = 3\n[profiles.nightly]\nreplicates = 4\n"
    )
    f = d / f"ex-{kind}.toml"
    f.write_text(head + example)
    assert load_claim(f, "quick").kind == kind
