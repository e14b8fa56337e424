"""Digests of trained weights and histories, to show a refactor of the trainer changes no bit.

    PYTHONPATH=. python benchmarks/training_digest.py > before.txt   # on the old code
    PYTHONPATH=. python benchmarks/training_digest.py > after.txt    # on the new code; diff the two

Covers the paper model with SGD at the paper's default data setting, a deep model with Adam,
an ensemble with a diverging member (failure tracking and freeze) and dense noise prompts.
Compare on one machine at one thread count (--threads): float reductions may split differently
across thread counts and CPUs, so the digests are not pinned in a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json

import torch

from harness.training.trainer import TrainedEnsemble, train_ensemble
from harness.world.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from harness.world.seeding import derive_seed


def digest(te: TrainedEnsemble) -> str:
    """sha256 over the final weights, the histories and the failure flags."""
    h = hashlib.sha256()
    for k, v in sorted(te.model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().contiguous().cpu().numpy().tobytes())
    h.update(json.dumps([dataclasses.asdict(x) for x in te.histories], sort_keys=True).encode())
    h.update(json.dumps([te.failed, te.failed_at]).encode())
    return h.hexdigest()


def small(
    seed: int, data: dict | None = None, model: dict | None = None, train: dict | None = None
) -> RunConfig:
    """The unit tests' tiny run (tests/conftest.py small_run)."""
    d = dict(
        M1=4,
        M2=4,
        dX=8,
        dY=4,
        l_tr=8,
        l_ts=8,
        n_train_tasks=4,
        M1_ood=3,
        alpha=0.8,
        alpha_test=0.8,
        **(data or {}),
    )
    t = dict(steps=30, batch=16, eta=0.5, eval_every=10, n_eval=64, chunk=10)
    t.update(train or {})
    return RunConfig(
        data=DataConfig(**d),
        model=ModelConfig(**{"m": 8, **(model or {})}),
        train=TrainConfig(**t),
        seed=seed,
    )


def cases() -> dict[str, list[RunConfig]]:
    deep = dict(arch="deep", depth=2, heads=2, width=8, mlp_width=12)
    adam = dict(optimizer="adam", eta=0.01, steps=12, eval_every=4, n_eval=16, chunk=4, batch=8)
    return {
        "paper-sgd-default": [
            RunConfig(data=DataConfig(), train=TrainConfig(steps=60), seed=derive_seed("digest", s))
            for s in range(2)
        ],
        "deep-adam": [small(s, model=deep, train=adam) for s in range(3)],
        "diverging-member": [small(0), small(99, train=dict(eta=1e12)), small(1)],
        "noise-dense": [small(s, data=dict(noise=0.1)) for s in range(2)],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    torch.set_num_threads(ap.parse_args().threads)
    for name, runs in cases().items():
        te = train_ensemble(runs)
        print(name, te.failed, digest(te))


if __name__ == "__main__":
    main()
