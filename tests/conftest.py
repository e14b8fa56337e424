"""Shared small configurations for the unit tests (kept tiny so every test runs in well under a
second)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import configuration as _hyp_configuration
from hypothesis import settings

from harness.world.config import DataConfig, ModelConfig, RunConfig, TrainConfig

pytest_plugins = ("pytester",)

# The tensors here are tiny: one thread is fastest and keeps timings stable on a busy 2-core
# machine.
torch.set_num_threads(1)

# Keep hypothesis' caches inside tests/ (gitignored, nothing written to the repository root) and do
# not keep
# an example database; the property tests are small (max_examples <= 40) and have no deadline.
_hyp_configuration.set_hypothesis_home_dir(Path(__file__).parent / ".hypothesis")
settings.register_profile("unit", database=None, deadline=None)
settings.load_profile("unit")


def small_run(
    seed: int = 0, *, data: dict | None = None, model: dict | None = None, train: dict | None = None
) -> RunConfig:
    """A tiny but valid run: M1=4, M2=4, dX=8, dY=4, m=8, 30 steps."""
    d = dict(
        M1=4, M2=4, dX=8, dY=4, l_tr=8, l_ts=8, n_train_tasks=4, M1_ood=3, alpha=0.8, alpha_test=0.8
    )
    m = dict(m=8)
    t = dict(steps=30, batch=16, eta=0.5, eval_every=10, n_eval=64, chunk=10)
    d.update(data or {})
    m.update(model or {})
    t.update(train or {})
    return RunConfig(
        data=DataConfig(**d), model=ModelConfig(**m), train=TrainConfig(**t), seed=seed
    )


@pytest.fixture(autouse=True)
def _restore_torch_determinism():
    """RuntimeSettings.apply (CLI runs, the runtime tests) turns deterministic algorithms on
    globally; restore the flag after each test."""
    before = torch.are_deterministic_algorithms_enabled()
    before_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    before_fill = torch.utils.deterministic.fill_uninitialized_memory
    yield
    torch.use_deterministic_algorithms(before, warn_only=before_warn)
    torch.utils.deterministic.fill_uninitialized_memory = before_fill


CLAIMS_DIR = Path(__file__).resolve().parent.parent / "claims"

# the [setting] of the tiny claim files the run tests write: M1 = 4, dX = 8, m = 8, {steps} steps
# (about a second)
TINY_SETTING = """[setting.data]
M1 = 4
M2 = 4
dX = 8
dY = 4
l_tr = 8
l_ts = 8
n_train_tasks = 4
[setting.model]
m = 8
[setting.train]
steps = {steps}
"""


def write_claim(folder: Path, name: str, text: str) -> Path:
    """Write claim `name` into `folder` beside a copy of the shared base file; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_base.toml").write_text((CLAIMS_DIR / "_base.toml").read_text())
    p = folder / f"{name}.toml"
    p.write_text(text)
    return p


def make_record(
    *,
    train_point: dict | None = None,
    replicate: int = 0,
    failed: bool = False,
    history=None,
    measurements: list | None = None,
    probes=None,
    config: RunConfig | None = None,
    key: str | None = None,
    claim: str = "synthetic",
):
    """A complete stored Record built by hand (synthetic verdict and figure tests): what is not
    given takes a neutral value (empty history and measurements, zero probes, the default
    RunConfig)."""
    from harness.claims.record import Provenance, Record, Timing
    from harness.core.fingerprint import code_fingerprint
    from harness.measure.measurement import Probes
    from harness.training.trainer import History

    key = key or f"{claim}-{replicate}"
    return Record(
        key=key,
        identity=key,
        fingerprint=code_fingerprint(),
        device_kind="cpu",
        claim=claim,
        train_point=dict(train_point or {}),
        replicate=replicate,
        seed=replicate,
        seeds={},
        config=config or RunConfig(),
        eval_points=[],
        eval={},
        history=history or History(),
        failed=failed,
        failed_at=None,
        measurements=list(measurements or []),
        probes=probes or Probes(0.0, 0.0, 0.0, 0.0),
        provenance=Provenance({}, "test", "cpu"),
        timing=Timing(1.0, 0.0, 1),
    )
