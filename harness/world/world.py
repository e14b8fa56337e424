"""One run's world: its patterns, OOD patterns and task sets, all from the run's seed."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.world.config import DataConfig, RunConfig
from harness.world.patterns import PatternSet, in_domain_patterns, ood_patterns
from harness.world.prompts import PromptBatch, sample_prompts
from harness.world.seeding import derive_seed, generator
from harness.world.tasks import all_tasks, tasks_using, training_tasks, unseen_tasks


@dataclass
class World:
    cfg: DataConfig
    seed: int
    ind: PatternSet  # IDR / IDI patterns
    ood: PatternSet  # ODR / ODI patterns
    train_tasks: torch.Tensor  # T_tr
    test_tasks: torch.Tensor  # T \ T_tr
    ood_tasks: torch.Tensor  # all pairs of ODR patterns

    @staticmethod
    def build(run: RunConfig) -> World:
        cfg = run.data
        ind = in_domain_patterns(cfg, run.seed)
        tr = training_tasks(cfg, run.seed)
        return World(
            cfg=cfg,
            seed=run.seed,
            ind=ind,
            ood=ood_patterns(cfg, ind, run.seed),
            train_tasks=tr,
            test_tasks=unseen_tasks(cfg.M1, tr),
            ood_tasks=all_tasks(cfg.M1_ood),
        )

    def train_prompts(
        self, n: int, g: torch.Generator, balanced: bool = True, dtype=torch.float32
    ) -> PromptBatch:
        c = self.cfg
        return sample_prompts(
            self.ind,
            self.train_tasks,
            n,
            c.l_tr,
            c.alpha,
            c.K,
            g,
            noise=c.noise,
            sampling="iid",
            balanced=balanced,
            dtype=dtype,
        )

    def test_prompts(
        self,
        n: int,
        g: torch.Generator,
        *,
        domain: str = "id",
        l: int | None = None,
        alpha: float | None = None,
        tasks: torch.Tensor | None = None,
        dtype=torch.float32,
    ) -> PromptBatch:
        """Test prompts: domain "id" on unseen in-domain tasks, "ood" on ODR tasks."""
        c = self.cfg
        l = c.l_ts if l is None else l
        alpha = c.alpha_test if alpha is None else alpha
        if domain == "id":
            if tasks is None:
                tasks = (
                    self.test_tasks
                    if c.test_on == "unseen"
                    else tasks_using(
                        self.test_tasks,
                        c.coverage_pattern,
                        side=1 if c.test_on == "other_side" else None,
                    )
                )
            ps, tk, K = self.ind, tasks, c.K
        elif domain == "ood":
            ps, tk, K = self.ood, self.ood_tasks if tasks is None else tasks, c.K_ood
        else:
            raise ValueError(f"domain must be 'id' or 'ood', got {domain!r}")
        return sample_prompts(
            ps,
            tk,
            n,
            l,
            alpha,
            K,
            g,
            noise=c.noise,
            sampling=c.test_sampling,
            balanced=True,
            dtype=dtype,
        )

    def eval_generator(self, *parts: object, device: torch.device | str = "cpu") -> torch.Generator:
        """A generator for a named evaluation set of this run."""
        return generator(derive_seed(self.seed, "eval", *parts), device)
