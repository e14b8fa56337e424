"""The training data stream: every member's online prompts, drawn from that member's own generator.

Prompts stay in factored form (pattern indices and coefficients) unless some
member adds dense noise; members never share a random draw, so a member's
prompts do not depend on the ensemble it is trained in. With compile on, the
prompt builder and the paper model's factored loss run through torch.compile.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch

from harness.measure.architectures import architecture_of
from harness.world.config import RunConfig
from harness.world.prompts import (
    N_UNIFORMS,
    FactoredPrompts,
    PromptBatch,
    draw_uniforms,
    factor_prompts,
    materialise,
)
from harness.world.seeding import derive_seed, generator
from harness.world.world import World
from models import EnsembleDeepTransformer, EnsembleICLTransformer
from models.icl_transformer import factored_hinge_loss_and_grads


@functools.cache
def torch_compiled(fn: Callable) -> Callable:
    """One torch.compile wrapper per function for the whole process, so its compiled graphs are
    reused."""
    return torch.compile(fn, dynamic=False)


class TrainingStream:
    """Training prompts for every member: one uniform draw (and, with noise, one
    normal draw) per member per chunk from that member's own generator, then one
    build for all members. Member e's prompts equal World.train_prompts with the
    same generator, so they never depend on the ensemble they are trained in.

    On a CPU the per-member draws run on torch's intra-op thread count of threads:
    a generator's stream is serial, but members are independent and each writes
    its own slice, so the split changes the wall time and nothing else. `close()`
    ends the threads."""

    def __init__(
        self,
        worlds: list[World],
        runs: list[RunConfig],
        device: torch.device,
        dtype: torch.dtype,
        compiled: bool = False,
    ):
        self.worlds, self.device, self.dtype, self.compiled = worlds, device, dtype, compiled
        self.threads = min(torch.get_num_threads(), len(runs)) if device.type == "cpu" else 1
        self.pool = (
            ThreadPoolExecutor(self.threads, thread_name_prefix="iclcheck-draws")
            if self.threads > 1
            else None
        )
        self.gens = [generator(derive_seed(r.seed, "train-data"), device) for r in runs]
        self.l = runs[0].data.l_tr
        self.rel = torch.stack([w.ind.relevant for w in worlds]).to(device, dtype)
        self.irr = torch.stack([w.ind.irrelevant for w in worlds]).to(device, dtype)
        self.q = torch.stack([w.ind.q for w in worlds]).to(device, dtype)
        T = max(len(w.train_tasks) for w in worlds)
        self.tasks = torch.stack(
            [
                torch.cat([w.train_tasks, w.train_tasks[:1].expand(T - len(w.train_tasks), 2)])
                for w in worlds
            ]
        ).to(device)
        self.n_tasks = torch.tensor([len(w.train_tasks) for w in worlds], device=device)
        self.alpha = torch.tensor([r.data.alpha for r in runs], dtype=torch.float64)
        self.K = torch.tensor([r.data.K for r in runs], dtype=torch.float64)
        self.noise = torch.tensor([r.data.noise for r in runs], dtype=torch.float64)
        self.balanced = runs[0].train.balanced_labels

    @property
    def factored(self) -> bool:
        """True when no member adds dense noise: prompts then stay in factored form."""
        return not bool((self.noise > 0).any())

    def _each_member(self, fn: Callable[[int], object]) -> None:
        """fn(e) for every member e, spread over the draw threads."""
        E = len(self.gens)
        if self.pool is None:
            for e in range(E):
                fn(e)
            return
        k = self.threads
        for _ in self.pool.map(lambda i: [fn(e) for e in range(i, E, k)], range(k)):
            pass  # consuming the results re-raises a worker's exception here

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def next(self, n: int) -> FactoredPrompts | PromptBatch:
        """The next n prompts of every member: factored when possible, else dense."""
        E, dX = len(self.gens), self.rel.shape[-1]
        U = torch.empty(E, n, self.l + 1, N_UNIFORMS, device=self.device)
        self._each_member(lambda e: draw_uniforms(n, self.l, self.gens[e], out=U[e]))
        build = torch_compiled(factor_prompts) if self.compiled else factor_prompts
        f = build(
            U,
            self.rel.shape[1],
            self.irr.shape[1],
            self.tasks,
            self.n_tasks,
            self.alpha,
            self.K,
            sampling="iid",
            balanced=self.balanced,
            dtype=self.dtype,
        )
        if self.factored:
            return f
        normals = torch.zeros(E, n, self.l + 1, dX, device=self.device)
        noisy = (self.noise > 0).tolist()

        def draw_noise(e: int) -> None:
            if noisy[e]:
                torch.randn(
                    n, self.l + 1, dX, generator=self.gens[e], device=self.device, out=normals[e]
                )

        self._each_member(draw_noise)
        return materialise(f, self.rel, self.irr, self.q, self.noise, normals)

    def loss_and_grads(
        self,
        model: EnsembleICLTransformer | EnsembleDeepTransformer,
        batch: FactoredPrompts | PromptBatch,
    ):
        # hand-written gradients on factored prompts (the paper's model)
        factored = architecture_of(model).factored
        if isinstance(batch, FactoredPrompts):
            if factored and self.compiled:
                with torch.no_grad():
                    return torch_compiled(factored_hinge_loss_and_grads)(
                        model.W_Q,
                        model.W_K,
                        model.W_V,
                        model.W_O,
                        model.a,
                        model.train_a,
                        self.rel,
                        self.irr,
                        self.q,
                        batch.pat,
                        batch.k,
                        batch.kappa,
                        batch.y,
                        batch.z,
                    )
            if factored:
                return model.hinge_loss_and_grads_factored(
                    self.rel, self.irr, self.q, batch.pat, batch.k, batch.kappa, batch.y, batch.z
                )
            # a model without the factored path gets dense prompts (no noise here)
            batch = materialise(batch, self.rel, self.irr, self.q)
        return model.hinge_loss_and_grads(batch.P, batch.z)
