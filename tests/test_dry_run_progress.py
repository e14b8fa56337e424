"""The plan before anything runs (--dry-run, CLI and plugin) and progress by training steps."""

from __future__ import annotations

import io
import re

from test_run_resume import _pytest, tiny

from harness import cli
from harness.run.progress import Progress


def _plan_counts(text: str) -> tuple[int, int, int]:
    train = int(re.search(r"train +(\d+) models", text).group(1))
    measure = int(re.search(r"measure only +(\d+) units", text).group(1))
    reuse = int(re.search(r"reuse +(\d+) stored records", text).group(1))
    return train, measure, reuse


def test_dry_run_prints_the_plan_trains_nothing_and_exits_0(tmp_path, capsys):
    path = tiny(tmp_path, steps=20)
    results = tmp_path / "results"
    args = ["run", str(path), "--results", str(results), "--dry-run"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "plan: 1 claims" in out and "claims: tiny" in out
    assert _plan_counts(out) == (4, 0, 0)
    assert "no recorded timings" in out
    assert all(len(line) <= 100 for line in out.splitlines())
    assert not list(results.rglob("*.json"))  # nothing trained, nothing written

    assert cli.main(["run", str(path), "--results", str(results), "--no-progress"]) in (0, 1)
    capsys.readouterr()
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert _plan_counts(out) == (0, 0, 4)
    # another n_test measures the stored models, and the estimate reads the store's timings
    p = path.read_text().replace("n_test = 100", "n_test = 120")
    path.write_text(p)
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert _plan_counts(out) == (0, 4, 0)
    assert re.search(r"estimate +about \d+:\d\d of training \(from 4 stored models\)", out)


def test_the_plugin_dry_run_skips_every_claim_and_prints_the_plan(tmp_path):
    tiny(tmp_path, steps=20)
    r = _pytest(tmp_path, "--iclcheck-profile", "quick", "--iclcheck-dry-run", "-rs")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "claim plan (dry run)" in r.stdout and "train         4 models" in r.stdout
    assert "dry run: nothing trained" in r.stdout
    assert not list(tmp_path.rglob("store/**/*.json"))


def test_sparse_progress_lines_count_member_steps_with_time_left():
    out = io.StringIO()
    bar = Progress(steps=1000, units=4, out=out, tty=False)
    for _ in range(100):
        bar.trained(8)  # an ensemble of 8 members, 100 steps
    bar.measured(2)
    bar.trained(200)
    bar.close()
    lines = out.getvalue().splitlines()
    assert 1 <= len(lines) <= 11
    assert re.fullmatch(
        r"training: 80% \(800/1000 member-steps, 0/4 units measured\), \d+:\d\d elapsed, "
        r"about \d+:\d\d left",
        lines[7],
    ), lines
    assert lines[-1].startswith("training: 100% (1000/1000 member-steps, 2/4 units measured)")


def test_the_terminal_bar_moves_by_steps_and_nothing_prints_when_disabled():
    out = io.StringIO()
    bar = Progress(steps=600, units=3, out=out, tty=True)
    bar.trained(300)
    bar.measured(1)
    bar.close()
    text = out.getvalue()
    assert "training" in text and "300/600" in text and "measured 1/3 units" in text
    quiet = io.StringIO()
    off = Progress(steps=600, units=3, enabled=False, out=quiet, tty=False)
    off.trained(600)
    off.measured(3)
    off.close()
    assert quiet.getvalue() == ""


def test_a_measure_only_run_counts_units():
    out = io.StringIO()
    bar = Progress(steps=0, units=10, out=out, tty=False)
    for _ in range(10):
        bar.measured(1)
    assert out.getvalue().splitlines()[-1].startswith("measuring: 100% (10/10 units)")


def test_the_estimate_skips_untrained_models_in_the_store(tmp_path, capsys):
    # an init control stores models with 0 steps: no training rate, and no division by zero
    path = tiny(tmp_path, steps=0)
    results = tmp_path / "results"
    assert cli.main(["run", str(path), "--results", str(results), "--no-progress"]) in (0, 1)
    capsys.readouterr()
    tiny(tmp_path, steps=20)
    assert cli.main(["run", str(path), "--results", str(results), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert _plan_counts(out) == (4, 0, 0) and "no recorded timings" in out


def test_share_and_time_left_are_by_work_not_by_steps():
    # 100 cheap member-steps (work 1 each) and 100 costly ones (work 9 each): half the steps done
    # is a tenth of the work
    out = io.StringIO()
    bar = Progress(steps=200, units=2, out=out, tty=False, work=1000.0)
    for _ in range(100):
        bar.trained(1, 1.0)
    assert bar.line().startswith("training: 10% (100/200 member-steps, 0/2 units measured)")
    for _ in range(100):
        bar.trained(1, 9.0)
    assert out.getvalue().splitlines()[-1].startswith("training: 100% (200/200 member-steps")


def test_a_deep_step_costs_more_than_a_one_layer_step_on_the_same_prompts():
    from harness.run.cost_model import member_work
    from harness.world.config import RunConfig

    one = RunConfig()
    deep = RunConfig.from_dict(
        {**one.to_dict(), "model": {**one.to_dict()["model"], "arch": "deep"}}
    )
    assert member_work(deep) > 5 * member_work(one) > 0
    wider = RunConfig.from_dict(
        {**deep.to_dict(), "model": {**deep.to_dict()["model"], "width": 128}}
    )
    assert member_work(wider) > member_work(deep)


def test_workers_report_steps_and_work_to_the_parent(tmp_path, capsys):
    path = tiny(tmp_path, steps=50)
    args = ["run", str(path), "--results", str(tmp_path / "r"), "--executor", "process"]
    assert cli.main(args + ["--jobs", "2"]) in (0, 1)
    err = capsys.readouterr().err
    assert "training: 100% (200/200 member-steps" in err, err


def test_training_rates_price_every_architecture_the_store_holds(tmp_path):
    """The newest models (here 250 untrained deep init controls) do not crowd an older
    architecture out of the timing sample: it keeps its own rate, not the others' median."""
    import dataclasses
    import os

    from harness.run.model_store import MODELS, StoredModel
    from harness.run.run_plan_text import SAMPLE, training_rate
    from harness.run.store import Store
    from harness.world.config import RunConfig
    from harness.world.test_fields import training_part

    store = Store(tmp_path / "store")
    base = RunConfig()
    deep = dataclasses.replace(base, model=dataclasses.replace(base.model, arch="deep"))
    init = dataclasses.replace(deep, train=dataclasses.replace(deep.train, steps=0))

    def write(key: str, run: RunConfig, seconds: float, mtime: int) -> None:
        meta = StoredModel(
            key, training_part(run), run.seed, "cpu", "f", False, None, seconds, 1, False, ""
        )
        os.utime(store.write(MODELS, meta), (mtime, mtime))

    write("old-paper", base, 2.0, 1_000)
    write("deep", deep, 5.0, 2_000)
    for i in range(SAMPLE + 50):
        write(f"init-{i}", init, 0.01, 3_000 + i)
    rates = training_rate(store)
    assert rates is not None and set(rates.by_arch) == {"paper", "deep"}
    assert rates.models == 2
    assert rates.of(base) != rates.of(deep)
