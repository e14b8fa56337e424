"""Tasks (ordered pairs of relevant patterns) and the training subset T_tr.

A task (a, b) labels x +1 when its relevant pattern is mu_a, -1 when it is mu_b.
A uniform covering T_tr is a union of cyclic shifts {(i, i + s mod M1)}: each
shift shows every pattern exactly once as the +1 side and once as the -1 side.
"""

from __future__ import annotations

import torch

from harness.world.config import DataConfig
from harness.world.seeding import derive_seed, generator


def all_tasks(M: int) -> torch.Tensor:
    """All M (M - 1) ordered pairs (a, b), a != b, as an (n, 2) long tensor."""
    return torch.tensor([(a, b) for a in range(M) for b in range(M) if a != b], dtype=torch.long)


def training_tasks(cfg: DataConfig, seed: int) -> torch.Tensor:
    """T_tr of size cfg.train_task_count (n_train_tasks, or set by train_task_rule) following
    `cfg.coverage`.

    uniform: n_train_tasks / M1 distinct cyclic shifts drawn from 1..M1-1. missing_pattern: tasks
    that never use `coverage_pattern` (a random subset of them). one_label_side: `coverage_pattern`
    appears only as the +1 side (claim coverage-labels: tasks that need it as the -1 side are
    unseen; `test_on = "pattern"` tests on the unseen tasks using it)."""
    M, n = cfg.M1, cfg.train_task_count
    g = generator(derive_seed(seed, "train-tasks"))
    if cfg.coverage == "uniform":
        k = n // M
        shifts = (torch.randperm(M - 1, generator=g)[:k] + 1).tolist()
        rows = [(i, (i + s) % M) for s in sorted(shifts) for i in range(M)]
        return torch.tensor(rows, dtype=torch.long)
    pool = all_tasks(M)
    j = cfg.coverage_pattern
    if cfg.coverage == "missing_pattern":
        keep = (pool[:, 0] != j) & (pool[:, 1] != j)
    else:  # one_label_side
        keep = pool[:, 1] != j
    pool = pool[keep]
    if n > len(pool):
        raise ValueError(
            f"n_train_tasks must be <= {len(pool)} for coverage={cfg.coverage!r}, got {n}"
        )
    return pool[torch.randperm(len(pool), generator=g)[:n]]


def unseen_tasks(M: int, train: torch.Tensor) -> torch.Tensor:
    """T minus T_tr: the in-domain tasks never trained on."""
    seen = {tuple(t) for t in train.tolist()}
    rows = [t for t in all_tasks(M).tolist() if tuple(t) not in seen]
    if not rows:
        raise ValueError("n_train_tasks leaves no unseen in-domain task to test on")
    return torch.tensor(rows, dtype=torch.long)


def tasks_using(tasks: torch.Tensor, pattern: int, side: int | None = None) -> torch.Tensor:
    """The rows of `tasks` in which `pattern` is either side (side None), the +1 side (0) or the -1
    side (1)."""
    if side is not None:
        return tasks[tasks[:, side] == pattern]
    return tasks[(tasks[:, 0] == pattern) | (tasks[:, 1] == pattern)]


def coverage_counts(tasks: torch.Tensor, M: int) -> torch.Tensor:
    """(M, 2): how often each pattern is the +1 side and the -1 side."""
    out = torch.zeros(M, 2, dtype=torch.long)
    out[:, 0] = torch.bincount(tasks[:, 0], minlength=M)
    out[:, 1] = torch.bincount(tasks[:, 1], minlength=M)
    return out
