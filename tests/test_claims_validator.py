"""Claim-file validation: one line naming the file and key, with a suggestion; seeds and keys of
units."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_claim

from harness.claims.grid import expand
from harness.claims.schema import ClaimError, load_claim
from harness.loading import load_claims

GOOD = """id = "{id}"
source = "test"
statement = "a claim"
kind = "trend"
[grid]
"data.S1" = [0.5, 1.0]
[metric]
name = "error_rate"
domain = "ood"
x = "data.S1"
[prediction]
direction = "decreasing"
[profiles.quick]
replicates = 2
[profiles.nightly]
replicates = 3
"""


def write(tmp_path: Path, text: str, name: str = "c") -> Path:
    return write_claim(tmp_path, name, text.replace("{id}", name))


def error_of(path: Path) -> str:
    with pytest.raises(ClaimError) as e:
        load_claims([path], "quick")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path))
    return msg


def test_good_file_loads(tmp_path):
    c = load_claim(write(tmp_path, GOOD), "quick")
    assert c.replicates == 2 and c.eval_axes == ["data.S1"] and c.train_axes == []


@pytest.mark.parametrize(
    "edit,key,hint",
    [
        (lambda t: t.replace("statement =", "statment ="), "statment", "did you mean 'statement'"),
        (lambda t: t.replace('kind = "trend"', 'kind = "trnd"'), "kind", "did you mean 'trend'"),
        (
            lambda t: t.replace('name = "error_rate"', 'name = "error_rat"'),
            "metric.name",
            "did you mean 'error_rate'",
        ),
        (
            lambda t: t + "[setting.data]\nalpah = 0.5\n",
            "setting.data.alpah",
            "did you mean 'alpha'",
        ),
        (
            lambda t: t.replace(
                '"data.S1" = [0.5, 1.0]', '"data.S1" = [0.5, 1.0]\n"data.alpah" = [0.5]'
            ),
            "grid.data.alpah",
            "did you mean 'data.alpha'",
        ),
        (
            lambda t: t.replace(
                '"data.S1" = [0.5, 1.0]', '"data.S1" = [0.5, 1.0]\n"data.alpha" = [0.5, 1.5]'
            ),
            "grid.data.alpha",
            "alpha must be in (0, 1]",
        ),
        (
            lambda t: t.replace("replicates = 2", 'replicates = "two"'),
            "profiles.quick.replicates",
            "must be an integer",
        ),
        (
            lambda t: t.replace("[profiles.nightly]\nreplicates = 3\n", ""),
            "profiles.nightly",
            "missing",
        ),
        (
            lambda t: t.replace('direction = "decreasing"', "threshold = 1.0"),
            "prediction.direction",
            "missing",
        ),
        (lambda t: t.replace('id = "{id}"', 'id = "other"'), "id", "must equal the file name"),
        (lambda t: t.replace('x = "data.S1"', 'x = "data.S2"'), "metric.x", "not in the grid"),
        (
            lambda t: t + '[expectation]\nverdict = "REFUTD"\nreason = "r"\n',
            "expectation.verdict",
            "did you mean 'REFUTED'",
        ),
        (
            lambda t: t.replace('kind = "trend"', 'figure = "atention_curve"\nkind = "trend"'),
            "figure",
            "did you mean 'attention_curve'",
        ),
        (
            lambda t: t + "[profiles.nightly.setting.train]\nstep = 3\n",
            "profiles.nightly.setting.train.step",
            "did you mean 'steps'",
        ),
    ],
)
def test_validator_messages(tmp_path, edit, key, hint):
    msg = error_of(write(tmp_path, edit(GOOD)))
    assert f": {key}:" in msg, msg
    if hint:
        assert hint in msg, msg


def test_invalid_toml_is_one_line(tmp_path):
    msg = error_of(write(tmp_path, GOOD + "this is = = not toml\n"))
    assert "not valid TOML" in msg


def test_cli_validate_bad_file_exits_2_with_one_line(tmp_path):
    p = write(tmp_path, GOOD.replace("statement =", "statment ="))
    r = subprocess.run(
        [sys.executable, "-m", "harness", "validate", str(p)], capture_output=True, text=True
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("error: ")
        and "statment" in lines[0]
        and "Traceback" not in r.stderr
    )


def test_cli_run_unknown_profile_or_device_exits_nonzero(tmp_path):
    p = write(tmp_path, GOOD)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            str(p),
            "--device",
            "cuda:7",
            "--results",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    if r.returncode == 2:  # no CUDA here: one clear line
        assert r.stderr.strip().startswith("error: --device cuda:7")


def test_seeds_depend_only_on_config_and_replicate(tmp_path):
    text = GOOD.replace(
        '"data.S1" = [0.5, 1.0]', '"data.S1" = [0.5, 1.0]\n"data.alpha" = [0.4, 0.8]'
    )
    a = {
        (u.train_point["data.alpha"], u.replicate): u
        for u in expand(load_claim(write(tmp_path, text), "quick"))
    }
    text2 = text.replace('"data.alpha" = [0.4, 0.8]', '"data.alpha" = [0.8, 0.6, 0.4]').replace(
        '"data.S1" = [0.5, 1.0]', '"data.S1" = [1.0]'
    )
    b = {
        (u.train_point["data.alpha"], u.replicate): u
        for u in expand(load_claim(write(tmp_path, text2), "quick"))
    }
    for k in a:
        # same config and replicate: same seed, whatever the rest of the grid
        assert a[k].run.seed == b[k].run.seed
    assert len({u.run.seed for u in a.values()}) == len(a)
    # stable content keys
    assert a[(0.4, 0)].key == expand(load_claim(write(tmp_path, text), "quick"))[0].key


def test_a_base_value_only_the_eval_grid_replaces_is_still_checked(tmp_path):
    """A unit trains from its train point alone: a base alpha_test = 0 that every grid point
    overrides (alpha_test is an eval axis here) would reach training as 0, so the file is refused in
    one line before any unit is built."""
    p = write(
        tmp_path,
        GOOD.replace('"data.S1" = [0.5, 1.0]', '"data.S1" = [0.5, 1.0]\n"data.alpha_test" = [0.8]'),
    )
    base = tmp_path / "_base.toml"
    base.write_text(base.read_text().replace("alpha_test = 0.8", "alpha_test = 0.0"))
    assert "alpha_test" in error_of(p)
