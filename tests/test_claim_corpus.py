"""Broken claim files (tests/broken_claims/) and the checks that span files: each is one ClaimError
line naming the file and the key where the problem is written, before anything trains."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import write_claim

from harness.claims.schema import ClaimError, load_claim
from harness.cli import main
from harness.loading import load_claims

_spec = importlib.util.spec_from_file_location(
    "broken_claims_classify", Path(__file__).parent / "broken_claims" / "classify.py"
)
classify = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(classify)

GOOD = (
    (Path(__file__).parent / "broken_claims" / "grid-duplicate.toml")
    .read_text()
    .replace("[0.5, 0.5, 1.0]", "[0.5, 1.0]")
)


def test_corpus_is_large_enough():
    assert len(classify.corpus()) >= 60


@pytest.mark.parametrize("path", classify.corpus(), ids=lambda p: p.name)
def test_broken_file_is_rejected_with_one_line_naming_file_and_key(path):
    outcome, msg = classify.classify(path)
    assert outcome == "clean", f"{outcome}: {msg}"


def test_the_corpus_template_itself_is_valid(tmp_path):
    c = load_claim(write_claim(tmp_path, "grid-duplicate", GOOD), "nightly")
    assert c.grid == {"data.S1": [0.5, 1.0]}


def test_two_files_with_one_id_are_rejected(tmp_path):
    a = write_claim(tmp_path / "a", "same", GOOD.replace('"grid-duplicate"', '"same"'))
    b = write_claim(tmp_path / "b", "same", GOOD.replace('"grid-duplicate"', '"same"'))
    with pytest.raises(
        ClaimError, match=r"b/same\.toml: id: 'same' is also the id of .*a/same\.toml"
    ):
        load_claims([a, b], "quick")
    assert len(load_claims([a, a], "quick")) == 1  # the same file named twice counts once


def test_validate_rejects_duplicate_ids(tmp_path, capsys):
    a = write_claim(tmp_path / "a", "same", GOOD.replace('"grid-duplicate"', '"same"'))
    b = write_claim(tmp_path / "b", "same", GOOD.replace('"grid-duplicate"', '"same"'))
    assert main(["validate", str(a), str(b)]) == 2
    assert "is also the id of" in capsys.readouterr().err


def test_validate_on_a_folder_without_claims_exits_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(tmp_path) in err and "no claim files" in err


def test_validate_on_a_folder_named_toml_exits_2(tmp_path, capsys):
    d = tmp_path / "x.toml"
    d.mkdir()
    assert main(["validate", str(d)]) == 2
    assert "no claim files" in capsys.readouterr().err
    (tmp_path / "y.toml").write_text(GOOD.replace('"grid-duplicate"', '"y"'))
    (tmp_path / "_base.toml").write_text(
        (Path(__file__).parent / "broken_claims" / "_base.toml").read_text()
    )
    assert main(["validate", str(tmp_path)]) == 2  # the folder x.toml inside a claims folder
    assert f"{d}: is a folder, not a claim file" in capsys.readouterr().err


def test_binary_file_names_the_file(tmp_path):
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(ClaimError, match=rf"^{p}: not a UTF-8 text file"):
        load_claims([p], "quick")


@pytest.mark.parametrize("name", ["...", ".hidden", "a b", "x..y/.."])
def test_unsafe_file_names_are_rejected(tmp_path, name):
    p = tmp_path / "sub" / f"{name.split('/')[0]}.toml"
    p.parent.mkdir(exist_ok=True)
    p.write_text(GOOD.replace('"grid-duplicate"', repr(p.stem)))
    with pytest.raises(ClaimError, match="not a safe claim id"):
        load_claim(p, "quick")


def test_a_default_value_made_invalid_by_a_grid_point_blames_the_grid(tmp_path):
    text = GOOD.replace('"data.S1" = [0.5, 1.0]', '"data.S1" = [0.5, 1.0]\n"data.M1" = [6, 12]')
    with pytest.raises(
        ClaimError, match=r": grid\.data\.M1: at grid point .*M1 \+ M2 must be <= dX"
    ):
        load_claim(write_claim(tmp_path, "grid-duplicate", text), "quick")
