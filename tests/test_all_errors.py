"""`iclcheck validate` reports every error of a file, not only the first, one line each."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.claims.all_errors import file_errors
from harness.loading import validation_errors

ROOT = Path(__file__).resolve().parent.parent


def _copy(tmp_path: Path, name: str, edits: list[tuple[str, str]]) -> Path:
    d = tmp_path / "claims"
    d.mkdir(exist_ok=True)
    shutil.copy(ROOT / "claims" / "_base.toml", d / "_base.toml")
    text = (ROOT / "claims" / name).read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    (d / name).write_text(text)
    return d / name


def test_independent_errors_are_all_reported(tmp_path):
    f = _copy(
        tmp_path,
        "deep-prune-small.toml",
        [("steps = 1500", "stepz = 1500"), ("margin = 0.02", "margin = 0.02\nbogus = 1")],
    )
    _copy(tmp_path, "ood-length.toml", [('kind = "trend"', 'kind = "trend"\nextra = 2')])
    errors = file_errors(f)
    assert [e.split(": ")[1] for e in errors] == ["setting.train.stepz", "prediction.bogus"]
    everything = validation_errors([tmp_path / "claims"], reference="none")
    assert len(everything) == 3 and everything[-1].split(": ")[1] == "extra"
    assert all(len(e.splitlines()) == 1 for e in everything)


def test_a_consequence_is_not_reported_twice(tmp_path):
    f = _copy(tmp_path, "ood-length.toml", [('name = "error_rate"', 'name = "error_rat"')])
    errors = file_errors(f)
    assert len(errors) == 1 and "unknown metric 'error_rat'" in errors[0]


def test_a_valid_file_has_no_errors():
    assert file_errors(ROOT / "claims" / "ood-length.toml") == []
