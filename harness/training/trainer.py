"""Online SGD on the hinge loss for an ensemble of runs of equal tensor shape.

The model is the paper's one-layer Transformer (`model.arch = "paper"`, hand-written
gradients, factored data path) or the deep GPT-2-style one (`"deep"`, autograd,
dense prompts). The update acts on every parameter named in the gradient dict the
model returns: plain SGD by default, or Adam (`train.optimizer = "adam"`; betas
0.9 / 0.999, eps 1e-8, no weight decay, bias-corrected) with its moment estimates
kept per parameter tensor, whose leading dimension is the member, so every
member has its own optimizer state.

Each member has its own seed, world, initialisation, data stream, step size
and data settings; members never share a random draw, so training member e in
an ensemble gives the same weights as training it alone. A member whose loss
turns non-finite (or exceeds `loss_limit`) is marked failed and frozen; the
others go on.
"""

from __future__ import annotations

import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import torch

from models import EnsembleDeepTransformer, EnsembleICLTransformer
from models.icl_transformer import factored_hinge_loss_and_grads

from harness.training.allocator import keep_freed_memory
from harness.world.config import RunConfig
from harness.measure.evaluation import evaluate
from harness.world.prompts import N_UNIFORMS, FactoredPrompts, PromptBatch, draw_uniforms, factor_prompts, materialise
from harness.world.seeding import derive_seed, generator, make_deterministic
from harness.world.world import World


ADAM_BETAS = (0.9, 0.999)  # train.optimizer = "adam"
ADAM_EPS = 1e-8
COMPILE_ENV = "ICLCHECK_COMPILE"  # "1": torch.compile the prompt builder and the factored loss (opt-in, see compile_enabled)


def compile_enabled(flag: bool | None = None) -> bool:
    """Whether training uses torch.compile: `flag` if given, else the ICLCHECK_COMPILE environment variable.

    Opt-in: each new tensor shape costs a compilation (~10-25 s on 2 CPU cores), which pays for long runs of
    few shapes (the benchmarks, nightly grids) but not for a quick suite of many small ones. The compiled path
    computes the same function (tested against the eager one to float tolerance); an environment variable
    rather than a config field, because it changes how, not what, is computed and reaches every executor's
    workers.
    """
    if flag is not None:
        return flag
    return os.environ.get(COMPILE_ENV, "").strip() not in ("", "0")


@functools.lru_cache(maxsize=None)
def _compiled(fn: Callable) -> Callable:
    """One torch.compile wrapper per function for the whole process, so its compiled graphs are reused."""
    return torch.compile(fn, dynamic=False)


@dataclass
class History:
    """Checkpoint records of one member; "iterations to reach eps" is read off these."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean hinge loss since the previous checkpoint
    err_id: list[int] = field(default_factory=list)  # errors on unseen in-domain tasks
    err_ood: list[int] = field(default_factory=list)  # errors on OOD tasks (-1: not evaluated, checkpoint_ood off)
    attn_id: list[float] = field(default_factory=list)  # same-pattern attention mass, in-domain
    attn_ood: list[float] = field(default_factory=list)  # same-pattern attention mass, OOD
    n_eval: int = 0
    # deep model only: per checkpoint, the same-pattern mass per block and head ([L][H]); empty otherwise
    attn_id_layers: list = field(default_factory=list)
    attn_ood_layers: list = field(default_factory=list)

    def first_step_at_or_below(self, eps: float, which: str = "err_id") -> int | None:
        """First checkpoint step whose error rate is <= eps; None if never (censored)."""
        for s, e in zip(self.steps, getattr(self, which)):
            if e / self.n_eval <= eps:
                return s
        return None


@dataclass
class TrainedEnsemble:
    runs: list[RunConfig]
    worlds: list[World]
    model: EnsembleICLTransformer | EnsembleDeepTransformer
    histories: list[History]
    failed: list[bool]
    failed_at: list[int | None]
    seconds: float
    device: str
    compiled: bool = False  # trained through torch.compile (compile_enabled)


class TrainingStream:
    """Training prompts for every member: one uniform draw (and, with noise, one
    normal draw) per member per chunk from that member's own generator, then one
    build for all members. Member e's prompts equal World.train_prompts with the
    same generator, so they never depend on the ensemble they are trained in.

    On a CPU the per-member draws run on torch's intra-op thread count of threads:
    a generator's stream is serial, but members are independent and each writes
    its own slice, so the split changes the wall time and nothing else. `close()`
    ends the threads."""

    def __init__(self, worlds: list[World], runs: list[RunConfig], device: torch.device, dtype: torch.dtype,
                 compiled: bool = False):
        self.worlds, self.device, self.dtype, self.compiled = worlds, device, dtype, compiled
        self.threads = min(torch.get_num_threads(), len(runs)) if device.type == "cpu" else 1
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="iclcheck-draws") if self.threads > 1 else None
        self.gens = [generator(derive_seed(r.seed, "train-data"), device) for r in runs]
        self.l = runs[0].data.l_tr
        self.rel = torch.stack([w.ind.relevant for w in worlds]).to(device, dtype)
        self.irr = torch.stack([w.ind.irrelevant for w in worlds]).to(device, dtype)
        self.q = torch.stack([w.ind.q for w in worlds]).to(device, dtype)
        T = max(len(w.train_tasks) for w in worlds)
        self.tasks = torch.stack([torch.cat([w.train_tasks, w.train_tasks[:1].expand(T - len(w.train_tasks), 2)]) for w in worlds]).to(device)
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
        build = _compiled(factor_prompts) if self.compiled else factor_prompts
        f = build(U, self.rel.shape[1], self.irr.shape[1], self.tasks, self.n_tasks, self.alpha, self.K,
                           sampling="iid", balanced=self.balanced, dtype=self.dtype)
        if self.factored:
            return f
        normals = torch.zeros(E, n, self.l + 1, dX, device=self.device)
        noisy = (self.noise > 0).tolist()

        def draw_noise(e: int) -> None:
            if noisy[e]:
                torch.randn(n, self.l + 1, dX, generator=self.gens[e], device=self.device, out=normals[e])

        self._each_member(draw_noise)
        return materialise(f, self.rel, self.irr, self.q, self.noise, normals)

    def loss_and_grads(self, model: EnsembleICLTransformer | EnsembleDeepTransformer, batch: FactoredPrompts | PromptBatch):
        if isinstance(batch, FactoredPrompts):
            if isinstance(model, EnsembleICLTransformer) and self.compiled:
                with torch.no_grad():
                    return _compiled(factored_hinge_loss_and_grads)(
                        model.W_Q, model.W_K, model.W_V, model.W_O, model.a, model.train_a,
                        self.rel, self.irr, self.q, batch.pat, batch.k, batch.kappa, batch.y, batch.z)
            if hasattr(model, "hinge_loss_and_grads_factored"):
                return model.hinge_loss_and_grads_factored(self.rel, self.irr, self.q, batch.pat, batch.k, batch.kappa, batch.y, batch.z)
            batch = materialise(batch, self.rel, self.irr, self.q)  # a model without the factored path gets dense prompts (no noise here)
        return model.hinge_loss_and_grads(batch.P, batch.z)


def _check_same_shape(runs: list[RunConfig]) -> None:
    keys = {r.shape_key() for r in runs}
    if len(keys) != 1:
        raise ValueError(f"runs in one ensemble must share their tensor shape and schedule, got {len(keys)} different shapes")


def init_ensemble(runs: list[RunConfig], device: torch.device | str,
                  dtype: torch.dtype = torch.float32) -> EnsembleICLTransformer | EnsembleDeepTransformer:
    """Each member initialised from derive_seed(run.seed, "init")."""
    if runs[0].model.arch == "deep":
        deep = []
        for r in runs:
            mc = r.model
            g = generator(derive_seed(r.seed, "init"), device)
            deep.append(EnsembleDeepTransformer.initial_weights(r.data.d, mc.depth, mc.heads, mc.width, mc.deep_mlp_width, mc.init_std, g, dtype))
        return EnsembleDeepTransformer.from_members(deep, heads=runs[0].model.heads).to(device)
    members = []
    for r in runs:
        d = r.data.d
        ma, mb = r.model.dims(d)
        g = generator(derive_seed(r.seed, "init"), device)
        members.append(EnsembleICLTransformer.initial_weights(d, r.model.m, ma, mb, r.model.delta, r.model.wo_std, r.model.a_scale, g, dtype))
    return EnsembleICLTransformer.from_members(members, train_a=runs[0].model.train_a).to(device)


def train_ensemble(
    runs: list[RunConfig], device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32, progress=None,
    compile: bool | None = None,
) -> TrainedEnsemble:
    """Train all `runs` in lockstep; returns weights, histories and failure flags.

    `compile`: torch.compile the hot path (None: the ICLCHECK_COMPILE environment variable, see compile_enabled)."""
    if not runs:
        raise ValueError("train_ensemble needs at least one run")
    for r in runs:
        r.validate()
    _check_same_shape(runs)
    device = torch.device(device)
    make_deterministic(device)
    if device.type == "cpu":
        keep_freed_memory()
    t0 = time.perf_counter()
    tc = runs[0].train
    E = len(runs)
    worlds = [World.build(r) for r in runs]
    model = init_ensemble(runs, device, dtype)
    compiled = compile_enabled(compile)
    stream = TrainingStream(worlds, runs, device, dtype, compiled)
    eval_id = PromptBatch.stack([w.test_prompts(tc.n_eval, w.eval_generator("checkpoint-id", device=device), dtype=dtype) for w in worlds])
    eval_ood = (PromptBatch.stack([w.test_prompts(tc.n_eval, w.eval_generator("checkpoint-ood", device=device), domain="ood", dtype=dtype) for w in worlds])
                if tc.checkpoint_ood else None)
    eta = torch.tensor([r.train.eta for r in runs], dtype=dtype, device=device)
    failed = torch.zeros(E, dtype=torch.bool, device=device)
    failed_at: list[int | None] = [None] * E
    any_failed = False  # until a member fails, its update needs no masking
    histories = [History(n_eval=tc.n_eval) for _ in runs]
    loss_sum = torch.zeros(E, dtype=torch.float64, device=device)
    loss_count = 0
    params = dict(model.named_parameters())  # the update loop acts on those named in the grads dict
    adam = tc.optimizer == "adam"
    moments: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # Adam: per-parameter (m, v), leading dim = member
    b1, b2, adam_eps = ADAM_BETAS[0], ADAM_BETAS[1], ADAM_EPS

    def checkpoint(step: int) -> None:
        nonlocal loss_count
        rid = evaluate(model, eval_id)
        rood = evaluate(model, eval_ood) if eval_ood is not None else None
        mean_loss = (loss_sum / max(loss_count, 1)).cpu()
        for e, h in enumerate(histories):
            h.steps.append(step)
            h.train_loss.append(float(mean_loss[e]) if loss_count else float("nan"))
            h.err_id.append(int(rid.errors[e]))
            h.err_ood.append(int(rood.errors[e]) if rood is not None else -1)
            h.attn_id.append(float(rid.attn_same[e]))
            h.attn_ood.append(float(rood.attn_same[e]) if rood is not None else float("nan"))
            if rid.attn_layers is not None:
                h.attn_id_layers.append(rid.attn_layers[e].tolist())
                h.attn_ood_layers.append(rood.attn_layers[e].tolist() if rood is not None and rood.attn_layers is not None else [])
        loss_sum.zero_()
        loss_count = 0

    checkpoint(0)
    B, T, C = tc.batch, tc.steps, tc.chunk
    try:
        step = 0
        while step < T:
            chunk = stream.next(C * B)
            for j in range(C):
                if step >= T:
                    break
                loss, grads = stream.loss_and_grads(model, chunk.slice(j * B, (j + 1) * B))
                bad = ~torch.isfinite(loss) | (loss > tc.loss_limit)
                if bool((bad & ~failed).any()):
                    for e in torch.nonzero(bad & ~failed).flatten().tolist():
                        failed_at[e] = step
                    failed |= bad
                    any_failed = True
                scale = torch.where(failed, torch.zeros_like(eta), eta) if any_failed else eta
                with torch.no_grad():
                    for k, gk in grads.items():
                        if adam:
                            m1, v1 = moments.get(k) or (torch.zeros_like(gk), torch.zeros_like(gk))
                            m1 = b1 * m1 + (1 - b1) * gk
                            v1 = b2 * v1 + (1 - b2) * gk * gk
                            moments[k] = (m1, v1)
                            t = step + 1
                            gk = (m1 / (1 - b1**t)) / ((v1 / (1 - b2**t)).sqrt() + adam_eps)
                        upd = scale.view(-1, *([1] * (gk.dim() - 1))) * gk
                        if any_failed:  # a failed member's gradient may be non-finite: freeze it explicitly
                            upd = torch.where(failed.view(-1, *([1] * (gk.dim() - 1))), torch.zeros_like(upd), upd)
                        params[k].sub_(upd)
                loss_sum += torch.where(failed, torch.full_like(loss, float("nan")), loss).double()  # a failed member's loss reads NaN
                loss_count += 1
                step += 1
                if step % tc.eval_every == 0 or step == T:
                    checkpoint(step)
                if progress is not None:
                    progress(1)
    finally:
        stream.close()
    return TrainedEnsemble(
        runs=list(runs), worlds=worlds, model=model, histories=histories, failed=failed.cpu().tolist(),
        failed_at=failed_at, seconds=time.perf_counter() - t0, device=str(device), compiled=compiled,
    )
