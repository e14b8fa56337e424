"""Store integrity and the unit key: a bad record is quarantined with one line and retrained, a
record of other code or another device is never reused silently, the typed record round-trips and
refuses what is wrong."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from conftest import make_record
from test_run_resume import tiny

from harness.claims.grid import expand
from harness.claims.record import SCHEMA_VERSION, Record
from harness.claims.schema import load_claim
from harness.core.fields import RecordError
from harness.core.fingerprint import code_fingerprint
from harness.core.jsonio import canonical, dumps, restore
from harness.fuzz.records import read_records, write_record
from harness.measure.measurement import Measurement
from harness.report.claim_report import run_totals, write_report
from harness.run.execution import NAMESPACE, execute, find_record, make_executor
from harness.run.paths import store_root
from harness.run.runner import run_claims
from harness.run.store import QUARANTINE, Store, checksum

OTHER_CODE = "0123456789abcdef"


def _rewrite(path: Path, change) -> None:
    """Edit a stored record's JSON and re-seal its checksum, so only `change` is wrong with it."""
    data = json.loads(path.read_text())
    change(data)
    data["checksum"] = checksum(data)
    path.write_text(dumps(data))


def _store(tmp_path: Path) -> tuple[Store, list[str]]:
    lines: list[str] = []
    return Store(tmp_path / "store", lines.append), lines


# ---------------------------------------------------------------------------------------------- the
# typed record


def test_record_round_trips_through_json():
    rec = make_record(
        train_point={"data.alpha": 0.4},
        replicate=2,
        measurements=[
            Measurement({"data.S1": 1.0}, 100, 3, 7, 0.5, float("nan"), [[0.1, 0.2]], [[0.3, 0.4]])
        ],
    )
    # the stored form, as the store reads it
    back = Record.from_json(restore(json.loads(dumps(rec.to_json()))))
    assert (
        back.config == rec.config
        and back.history == rec.history
        and back.train_point == rec.train_point
    )
    assert back.measurements[0].err_ood == 7 and back.measurements[0].attn_id_layers == [[0.1, 0.2]]


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda d: d.pop("timing"), "missing field timing"),
        (lambda d: d.update(bogus=1), "unknown field bogus"),
        (
            lambda d: d.update(schema_version=SCHEMA_VERSION - 1),
            f"schema_version {SCHEMA_VERSION - 1}",
        ),
        (lambda d: d.update(replicate="0"), "Record.replicate"),
        (lambda d: d["measurements"].append({"point": {}, "n": 1}), "missing field err_id"),
        (lambda d: d["history"].update(steps_x=[]), "unknown"),
    ],
)
def test_record_from_json_refuses_what_is_wrong(change, words):
    data = make_record().to_json()
    change(data)
    with pytest.raises(RecordError, match=words.replace("(", r"\(")):
        Record.from_json(data)


# ----------------------------------------------------------------------
# quarantine on read


CORRUPTIONS = {
    "empty file": lambda p: p.write_text(""),
    "garbage": lambda p: p.write_bytes(b"\x00\xffnot json at all"),
    "truncated JSON": lambda p: p.write_text(p.read_text()[: len(p.read_text()) // 2]),
    "not an object": lambda p: p.write_text("[1, 2]"),
    "tampered count": lambda p: p.write_text(p.read_text().replace('"err_id": 5', '"err_id": 0')),
    "another unit's key": lambda p: _rewrite(p, lambda d: d.update(key="b" * 24)),
    "missing field": lambda p: _rewrite(p, lambda d: d.pop("probes")),
    "old schema version": lambda p: _rewrite(p, lambda d: d.update(schema_version=2)),
}
WHY = {
    "empty file": "does not parse",
    "garbage": "does not parse",
    "truncated JSON": "does not parse",
    "not an object": "not a record object",
    "tampered count": "checksum mismatch",
    "another unit's key": "holds the record of key",
    "missing field": "missing field probes",
    "old schema version": "schema_version 2",
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_a_bad_record_is_quarantined_with_one_line(tmp_path, kind):
    store, lines = _store(tmp_path)
    rec = make_record(key="a" * 24, measurements=[Measurement({}, 100, 5, 5, 0.5, 0.5)])
    p = store.write("claim-x", rec)
    assert store.read("claim-x", rec.key, Record.from_json) == rec  # intact: read back as written
    CORRUPTIONS[kind](p)
    assert store.read("claim-x", rec.key, Record.from_json) is None
    assert len(lines) == 1 and str(p) in lines[0] and WHY[kind] in lines[0], lines
    assert not p.exists() and (tmp_path / "store" / QUARANTINE / "claim-x" / p.name).exists()
    # gone: no second warning
    assert store.records("claim-x", [rec.key], Record.from_json) == [] and len(lines) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind", ["truncated JSON", "tampered count", "another unit's key", "old schema version"]
)
def test_a_quarantined_unit_is_measured_again_to_the_same_record(tmp_path, kind):
    units = expand(load_claim(tiny(tmp_path, steps=20, reps=1), "quick"))
    store, lines = _store(tmp_path)
    ex = make_executor("local")
    assert execute(units, store, ex, progress=False)["done"] == len(units) == 2
    p = store.path(NAMESPACE, units[0].key)
    before = store.read(NAMESPACE, units[0].key, Record.from_json)
    if kind == "tampered count":  # one stored error count changed by hand
        p.write_text(
            re.sub(
                r'"err_ood": (\d+)',
                lambda m: f'"err_ood": {int(m.group(1)) + 1}',
                p.read_text(),
                count=1,
            )
        )
    else:
        CORRUPTIONS[kind](p)
    counts = execute(units, store, ex, progress=False, log=lines.append)
    # measured again on its stored model: nothing trains
    assert counts["done"] == 0 and counts["measured"] == 1 and counts["skipped"] == 1, counts
    assert len(lines) == 1 and str(p) in lines[0]
    again = store.read(NAMESPACE, units[0].key, Record.from_json)
    same = ("measurements", "history", "probes", "config", "key")
    # NaN-safe
    assert canonical({k: again.to_json()[k] for k in same}) == canonical(
        {k: before.to_json()[k] for k in same}
    )


# ------------------------------------------------------------------------------------- the key:
# code and device


def test_the_key_covers_device_kind_schema_and_code(tmp_path):
    claim = load_claim(tiny(tmp_path, steps=20, reps=1), "quick")
    cpu, cuda = expand(claim, "cpu"), expand(claim, "cuda:1")
    assert cpu[0].fingerprint == code_fingerprint() and cpu[0].key.endswith(code_fingerprint())
    assert cpu[0].identity != cuda[0].identity and cuda[0].device_kind == "cuda"
    other = dataclasses.replace(cpu[0], fingerprint=OTHER_CODE)
    assert other.identity == cpu[0].identity and other.key != cpu[0].key
    assert [u.key for u in expand(claim, "cpu:0")] == [u.key for u in cpu]  # only the kind counts
    # a worker's GPU index never enters the key
    assert [u.key for u in expand(claim, "cuda")] == [u.key for u in cuda]
    with pytest.raises(ValueError, match="device kind cuda"):
        execute(cuda, Store(tmp_path / "s"), make_executor("local"), progress=False)


@pytest.mark.slow
def test_records_of_other_code_are_remade_unless_reuse_is_asked_and_then_named(tmp_path):
    claim = load_claim(tiny(tmp_path, steps=20, reps=1), "quick")
    results = tmp_path / "results"
    store = Store(store_root(results))
    ex = make_executor("local")
    old = [dataclasses.replace(u, fingerprint=OTHER_CODE) for u in expand(claim)]
    assert execute(old, store, ex, progress=False)["done"] == 2  # written by "other code"
    assert all(find_record(store, u) is None for u in expand(claim))  # not reused silently
    assert all(
        find_record(store, u, reuse_stale=True).fingerprint == OTHER_CODE for u in expand(claim)
    )

    runs = run_claims([claim], results, ex, progress=False, reuse_stale=True)
    assert runs[0].counts == {"done": 0, "measured": 0, "skipped": 2, "crashed": 0, "stale": 2}
    assert any("reused from other code" in n and OTHER_CODE in n for n in runs[0].verdict.notes)
    totals = run_totals(runs)
    assert totals["reused_from_other_code"] == {
        "tiny": {"records": 2, "fingerprints": [OTHER_CODE]}
    }
    report = write_report(
        tmp_path / "out", [runs[0].verdict], {"profile": "quick", **totals}, "cpu"
    )
    assert "reused from other code" in report.read_text() and OTHER_CODE in report.read_text()

    # the default: measure again under this code's key; the stored models (their training code
    # unchanged) are measured, not trained again
    runs = run_claims([claim], results, ex, progress=False)
    assert runs[0].counts["done"] == 0 and runs[0].counts["measured"] == 2
    assert runs[0].counts["stale"] == 0 and not runs[0].stale_records
    # other training code: the models are trained again
    other = [dataclasses.replace(u, train_fp=OTHER_CODE) for u in expand(claim)]
    for p in store.paths("units"):
        p.unlink()
    assert execute(other, store, ex, progress=False)["done"] == 2
    assert run_totals(runs)["reused_from_other_code"] == {}


def test_a_cuda_record_is_not_found_for_a_cpu_unit(tmp_path):
    """A record written on another device kind sits under another identity: even --reuse-stale does
    not cross it."""
    claim = load_claim(tiny(tmp_path, steps=20, reps=1), "quick")
    store, _ = _store(tmp_path)
    cpu, cuda = expand(claim, "cpu")[0], expand(claim, "cuda")[0]
    rec = make_record(key=cuda.key, claim=cuda.claim_id)
    rec.identity, rec.device_kind = cuda.identity, "cuda"
    store.write(NAMESPACE, rec)
    assert find_record(store, cuda) == rec
    assert find_record(store, cpu) is None and find_record(store, cpu, reuse_stale=True) is None


# ----------------------------------------------------------------------
# fuzz records


def test_fuzz_records_go_through_the_same_checks(tmp_path):
    from test_fuzz_assumptions import ANCHOR, PROFILE, _synthetic

    outs = [
        _synthetic(PROFILE.run(dataclasses.replace(ANCHOR, coherence_rel=c), s), 0.01, 0.3)
        for c, s in ((0.3, 1), (0.7, 2))
    ]
    paths = [write_record(o.record("unit", "quick"), tmp_path) for o in outs]
    assert all(json.loads(p.read_text())["checksum"] for p in paths)
    # tampered counts
    paths[0].write_text(paths[0].read_text().replace('"errors": ', '"errors": 1'))
    lines: list[str] = []
    recs = read_records(tmp_path, "unit", log=lines.append)
    assert [r.key for r in recs] == [paths[1].stem]
    assert len(lines) == 1 and str(paths[0]) in lines[0] and "checksum" in lines[0]
    assert (tmp_path / QUARANTINE / "records" / paths[0].name).exists()
