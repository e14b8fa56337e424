"""`iclcheck validate` reports every file's error, one line each, and says where a misplaced key
belongs."""

from __future__ import annotations

from pathlib import Path

from conftest import CLAIMS_DIR, write_claim

from harness.cli import main


def test_validate_reports_every_file_and_where_a_key_belongs(tmp_path: Path, capsys):
    text = (CLAIMS_DIR / "prune-small.toml").read_text()
    moved = text.replace('a = { "prune.fraction" = 0.15 }\n', "").replace(
        "margin = 0.02\n", 'margin = 0.02\na = { "prune.fraction" = 0.15 }\n'
    )
    folder = tmp_path / "claims"
    write_claim(folder, "prune-small", moved)
    write_claim(
        folder,
        "b",
        text.replace('id = "prune-small"', 'id = "b"').replace(
            'kind = "comparison"', 'kind = "comparisn"'
        ),
    )
    assert main(["validate", str(folder), "--reference", "none"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("b.toml: kind: unknown kind 'comparisn' (did you mean 'comparison'?)")
    assert err[1].endswith(
        "prune-small.toml: prediction.a: unknown key (`a` is a [metric] key of kind comparison, "
        "not a [prediction] key)"
    )
    assert err[2] == "2 errors in 2 files"
