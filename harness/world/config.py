"""Configuration dataclasses for the paper's world (docs/paper.md §1).

Every value marked [choose] in docs/paper.md is a documented default here and can be
overridden by a claim file. `validate()` raises a one-line `ValueError` naming
the argument and its allowed range.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import torch


def _check(ok: bool, name: str, allowed: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _positive_int(name: str, value: Any) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    _check(ok, name, "a positive integer", value)


TRAIN_TASK_RULES = ("", "m1", "sqrt")  # how |T_tr| is set (DataConfig.train_task_rule)
SAMPLINGS = ("at_least", "iid", "exact")  # test-prompt samplings (harness.world.prompts)
SAMPLING_READINGS = {  # test_sampling -> one line for reports and docs
    "at_least": "contexts drawn iid, then replaced until ceil(alpha_test l_ts / 2) share the "
    "query's pattern (the paper's 'at least alpha'/2')",
    "iid": "every context drawn independently: a short prompt may hold no same-pattern context",
    "exact": "fixed counts: ceil(alpha_test l_ts / 2) contexts share the query's pattern, "
    "floor(alpha_test l_ts / 2) carry the task's other pattern, the rest are other patterns",
}
# ood_spread values; their one-line texts: patterns.OOD_READINGS
OOD_SPREADS = ("one", "pair", "all")


@dataclass(frozen=True)
class DataConfig:
    """Patterns, tasks and prompts.

    Paper values: M1=6, M2=24, dX=30, l_tr=20, alpha=0.8 [paper].
    beta=1, K=0.5, dY=10 [choose]. Coherences, noise, norm jitter and the OOD
    knobs are the fuzzing handles; their defaults give the paper's orthogonal world.
    """

    M1: int = 6  # in-domain-relevant (IDR) patterns
    M2: int = 24  # in-domain-irrelevant (IDI) patterns
    dX: int = 30  # input dimension
    dY: int = 10  # label-embedding dimension [choose]
    beta: float = 1.0  # pattern norm, >= 1 in the theory
    K: float = 0.5  # kappa ~ U(-K, K), K <= 1/2 in the theory
    alpha: float = 0.8  # training fraction of contexts carrying mu_a or mu_b
    l_tr: int = 20  # training context length
    alpha_test: float = 0.8  # alpha' of test prompts
    l_ts: int = 20  # test context length
    # test prompts (in-domain and OOD; training prompts are always "iid", docs/paper.md §1.3):
    # "at_least" (iid, then
    # contexts replaced until ceil(alpha_test l_ts / 2) share the query's pattern: the paper's "at
    # least
    # alpha'/2"), "iid" (independent draws; a short prompt may hold none) or "exact" (fixed counts)
    test_sampling: str = "at_least"
    # training-task subset T_tr
    # |T_tr|; a multiple of M1 for uniform coverage (unless train_task_rule sets it)
    n_train_tasks: int = 6
    # |T_tr| from M1 (docs/paper.md §1.2, the paper's two forms): "" = n_train_tasks; "m1" = M1
    # (|T_tr| >= M1);
    # "sqrt" = M1 ceil(sqrt(M1 - 1)), the smallest multiple of M1 with |T_tr| / |T| >= (M1 -
    # 1)^(-1/2)
    train_task_rule: str = ""
    coverage: str = "uniform"  # "uniform" | "missing_pattern" | "one_label_side"
    coverage_pattern: int = 0  # the pattern left out (or shown on one side only)
    # in-domain test tasks: "unseen" (T minus T_tr), "pattern" (unseen tasks using coverage_pattern)
    # or
    # "other_side" (unseen tasks with coverage_pattern as the -1 side: what coverage =
    # "one_label_side" never shows)
    test_on: str = "unseen"
    # departures from the theory's assumptions (fuzzing knobs)
    coherence_rel: float = 0.0  # pairwise cosine between IDR patterns
    coherence_irr: float = 0.0  # pairwise cosine between IDI patterns
    coherence_cross: float = 0.0  # cosine between every IDR and every IDI pattern
    beta_jitter: float = 0.0  # pattern norms drawn in beta * [1 - j, 1 + j]
    noise: float = 0.0  # expected norm of isotropic Gaussian noise added to each x
    # out-of-domain data
    M1_ood: int = 3  # ODR patterns M1'
    S1: float = 1.0  # coefficient sum of each ODR pattern
    # the OOD readings (docs/paper.md §1.4, [choose]; OOD_READINGS has their one-line texts): over
    # which IDR patterns
    # each ODR pattern's coefficients (sum S1) spread, and whether the ODR pattern is renormalised
    # to norm beta
    # "one" | "pair" (disjoint groups of M1 // M1_ood: pairs in the paper's setting) | "all"
    ood_spread: str = "pair"
    # False: the paper's reading (not renormalised); True: |mu'| = beta, sum c = S1
    ood_renormalise: bool = False
    # legacy alias: "unit_norm" = ood_renormalise true; "spread" defers to ood_renormalise
    ood_coef_mode: str = "spread"
    # spread of ODR coefficients around S1/group size (not renormalised)
    ood_coef_spread: float = 0.25
    K_ood: float = 0.5  # kappa' range
    odi_outside: float = 0.0  # 0: ODI inside span(IDI); rho in (0,1]: that much norm outside

    def validate(self) -> DataConfig:
        for name in ("M2", "dX", "dY", "l_tr", "l_ts", "n_train_tasks", "M1_ood"):
            _positive_int(name, getattr(self, name))
        _check(isinstance(self.M1, int) and self.M1 >= 3, "M1", "an integer >= 3", self.M1)
        _check(self.M1 + self.M2 <= self.dX, "M1 + M2", f"<= dX = {self.dX}", self.M1 + self.M2)
        _check(self.beta > 0, "beta", "> 0", self.beta)
        _check(0 <= self.K, "K", ">= 0", self.K)
        _check(0 <= self.K_ood, "K_ood", ">= 0", self.K_ood)
        _check(0 < self.alpha <= 1, "alpha", "in (0, 1]", self.alpha)
        _check(0 < self.alpha_test <= 1, "alpha_test", "in (0, 1]", self.alpha_test)
        _check(
            self.test_sampling in SAMPLINGS,
            "test_sampling",
            "'at_least', 'iid' or 'exact'",
            self.test_sampling,
        )
        n_all = self.M1 * (self.M1 - 1)
        _check(
            self.train_task_rule in TRAIN_TASK_RULES,
            "train_task_rule",
            "'' (n_train_tasks), 'm1' or 'sqrt'",
            self.train_task_rule,
        )
        named = (
            f"n_train_tasks (= {self.train_task_count} by train_task_rule={self.train_task_rule!r})"
            if self.train_task_rule
            else "n_train_tasks"
        )
        _check(
            self.train_task_count < n_all,
            named,
            f"< M1 (M1 - 1) = {n_all} (unseen tasks are needed)",
            self.train_task_count,
        )
        _check(
            self.coverage in ("uniform", "missing_pattern", "one_label_side"),
            "coverage",
            "'uniform', 'missing_pattern' or 'one_label_side'",
            self.coverage,
        )
        if self.coverage == "uniform":
            _check(
                self.train_task_count % self.M1 == 0,
                "n_train_tasks",
                f"a multiple of M1 = {self.M1} for uniform coverage",
                self.train_task_count,
            )
        _check(
            self.test_on in ("unseen", "pattern", "other_side"),
            "test_on",
            "'unseen', 'pattern' or 'other_side'",
            self.test_on,
        )
        _check(
            0 <= self.coverage_pattern < self.M1,
            "coverage_pattern",
            f"in [0, M1 = {self.M1})",
            self.coverage_pattern,
        )
        for name in ("coherence_rel", "coherence_irr", "coherence_cross"):
            _check(-1 < getattr(self, name) < 1, name, "in (-1, 1)", getattr(self, name))
        _check(
            self._coherence_pd(),
            "coherence_rel/coherence_irr/coherence_cross",
            "a combination giving a positive-definite Gram matrix",
            (self.coherence_rel, self.coherence_irr, self.coherence_cross),
        )
        _check(0 <= self.beta_jitter < 1, "beta_jitter", "in [0, 1)", self.beta_jitter)
        _check(self.noise >= 0, "noise", ">= 0", self.noise)
        _check(3 <= self.M1_ood <= self.M1, "M1_ood", f"in [3, M1 = {self.M1}]", self.M1_ood)
        _check(
            self.ood_coef_mode in ("unit_norm", "spread"),
            "ood_coef_mode",
            "'unit_norm' or 'spread'",
            self.ood_coef_mode,
        )
        _check(
            self.ood_spread in OOD_SPREADS, "ood_spread", "'one', 'pair' or 'all'", self.ood_spread
        )
        _check(
            isinstance(self.ood_renormalise, bool),
            "ood_renormalise",
            "true or false",
            self.ood_renormalise,
        )
        g = self.ood_group_size
        if self.renormalised:
            allowed = (
                "+-1 (one IDR pattern: |mu'| = |S1| beta)"
                if g == 1
                else f"in [-sqrt({g}), sqrt({g})] = +-{g**0.5:.4g}"
            )
            ok = abs(abs(self.S1) - 1.0) < 1e-12 if g == 1 else abs(self.S1) <= g**0.5 + 1e-12
            _check(
                ok,
                "S1",
                f"{allowed} with ood_renormalise=true (or ood_coef_mode='unit_norm') and "
                f"ood_spread='{self.ood_spread}'",
                self.S1,
            )
        _check(self.ood_coef_spread >= 0, "ood_coef_spread", ">= 0", self.ood_coef_spread)
        _check(0 <= self.odi_outside <= 1, "odi_outside", "in [0, 1]", self.odi_outside)
        return self

    @property
    def train_task_count(self) -> int:
        """|T_tr|: n_train_tasks, or computed from M1 by train_task_rule."""
        if self.train_task_rule == "m1":
            return self.M1
        if self.train_task_rule == "sqrt":
            return self.M1 * math.ceil((self.M1 - 1) ** 0.5 - 1e-12)
        return self.n_train_tasks

    @property
    def ood_group_size(self) -> int:
        """IDR patterns each ODR pattern is built from under `ood_spread`."""
        return {"one": 1, "pair": self.M1 // self.M1_ood}.get(self.ood_spread, self.M1)

    @property
    def renormalised(self) -> bool:
        """Whether ODR patterns are renormalised to norm beta (ood_renormalise, or the legacy
        ood_coef_mode='unit_norm')."""
        return self.ood_renormalise or self.ood_coef_mode == "unit_norm"

    def _coherence_pd(self) -> bool:
        """Whether the block-constant cosine matrix of the M1 + M2 patterns is positive definite."""
        G = gram_matrix(self, torch.ones(self.M1 + self.M2, dtype=torch.float64))
        return bool(torch.linalg.eigvalsh(G).min() > 1e-10)

    @property
    def d(self) -> int:
        """Embedding dimension of one prompt column, dX + dY."""
        return self.dX + self.dY


@dataclass(frozen=True)
class ModelConfig:
    """One-layer one-head Transformer sizes and initialisation (docs/paper.md §1.5), or, with
    arch = "deep", the multi-layer multi-head GPT-2-style model (docs/paper.md §1.7; depth,
    heads, width, mlp_width, init_std; m, ma, mb, delta, wo_std, a_scale unused).

    ma = mb = 0 means "equal to d = dX + dY", so W_Q, W_K, W_V start as
    delta * identity exactly. `wo_std` scales the Gaussian W_O [choose];
    `a_scale` is the magnitude of the fixed output vector, 1/sqrt(m) when 0.
    """

    m: int = 64  # MLP neurons (rows of W_O)
    ma: int = 0  # value dimension (0: d)
    mb: int = 0  # query/key dimension (0: d)
    delta: float = 0.2  # W_Q, W_K, W_V = delta * I at init, delta in (0, 0.2]
    wo_std: float = 0.2  # W_O ~ N(0, wo_std^2 / ma) [choose]
    a_scale: float = 0.0  # |a_i|; 0 means 1/sqrt(m)
    train_a: bool = False  # the paper keeps a fixed
    # architecture: "paper" (the one-layer one-head model above) or "deep" (a GPT-2-style
    # pre-norm Transformer, models/deep_transformer.py, docs/paper.md §1.7); the fields below are
    # read by "deep" only. Paper's deep experiment: 3 layers, 2 heads [paper]; width etc. [choose].
    arch: str = "paper"
    depth: int = 3  # blocks [paper]
    heads: int = 2  # attention heads per block [paper]
    width: int = 64  # residual-stream width, a multiple of heads [choose]
    mlp_width: int = 0  # MLP neurons per block; 0 means 4 * width (GPT-2) [choose]
    init_std: float = 0.02  # GPT-2 init std of the block weights [choose]
    mask: str = "set"  # "set": contexts see one another both ways; "causal": GPT-2's mask
    positions: int = 0  # 0: no positions; P > 0: GPT-2's learned positions for <= P columns

    def validate(self) -> ModelConfig:
        _positive_int("m", self.m)
        _check(
            self.m >= 2 and self.m % 2 == 0,
            "m",
            "an even integer >= 2 (a is +-1/sqrt(m), half each)",
            self.m,
        )
        for name in ("ma", "mb"):
            v = getattr(self, name)
            _check(isinstance(v, int) and v >= 0, name, "a non-negative integer (0: d)", v)
        _check(0 < self.delta <= 0.2, "delta", "in (0, 0.2]", self.delta)
        _check(self.wo_std > 0, "wo_std", "> 0", self.wo_std)
        _check(self.a_scale >= 0, "a_scale", ">= 0 (0: 1/sqrt(m))", self.a_scale)
        _check(
            isinstance(self.arch, str) and bool(self.arch),
            "arch",
            "a registered architecture name (harness.measure.architectures)",
            self.arch,
        )
        for name in ("depth", "heads", "width"):
            _positive_int(name, getattr(self, name))
        _check(
            self.width % self.heads == 0, "width", f"a multiple of heads = {self.heads}", self.width
        )
        ok = isinstance(self.mlp_width, int) and self.mlp_width >= 0
        _check(ok, "mlp_width", "a non-negative integer (0: 4 * width)", self.mlp_width)
        _check(self.init_std > 0, "init_std", "> 0", self.init_std)
        _check(self.mask in ("set", "causal"), "mask", "'set' or 'causal'", self.mask)
        ok = isinstance(self.positions, int) and self.positions >= 0
        _check(ok, "positions", "a non-negative integer (0: none)", self.positions)
        return self

    @property
    def deep_mlp_width(self) -> int:
        """MLP neurons per block of the deep model (mlp_width, 0 resolved to 4 * width)."""
        return self.mlp_width or 4 * self.width

    def dims(self, d: int) -> tuple[int, int]:
        """(ma, mb) with 0 resolved to the embedding dimension d."""
        return (self.ma or d, self.mb or d)


@dataclass(frozen=True)
class TrainConfig:
    """Online SGD on the hinge loss (docs/paper.md §1.6). eta, B [choose]."""

    steps: int = 600  # T
    batch: int = 64  # B
    eta: float = 1.0  # SGD step size
    eval_every: int = 25  # checkpoint interval (steps) for loss / error records
    n_eval: int = 512  # test prompts per checkpoint evaluation
    # steps of data generated per member at once (part of the data stream's definition)
    chunk: int = 25
    # also evaluate OOD error / attention at checkpoints (off where no claim reads it)
    checkpoint_ood: bool = True
    balanced_labels: bool = True  # half the queries in a batch carry mu_a, half mu_b
    loss_limit: float = 1e6  # a member whose loss exceeds this (or is non-finite) is marked failed
    # "sgd" (the paper's) or "adam" (eta is its step size; betas 0.9, 0.999, eps 1e-8, no weight
    # decay)
    optimizer: str = "sgd"

    def validate(self) -> TrainConfig:
        for name in ("batch", "eval_every", "n_eval", "chunk"):
            _positive_int(name, getattr(self, name))
        # 0 steps: the model at initialisation (the `init` control of harness.claims.control)
        _check(
            isinstance(self.steps, int) and not isinstance(self.steps, bool) and self.steps >= 0,
            "steps",
            "a non-negative integer",
            self.steps,
        )
        _check(self.eta > 0, "eta", "> 0", self.eta)
        _check(self.optimizer in ("sgd", "adam"), "optimizer", "'sgd' or 'adam'", self.optimizer)
        _check(self.loss_limit > 0, "loss_limit", "> 0", self.loss_limit)
        return self


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one trained model: data, model, training, seed."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0

    def validate(self) -> RunConfig:
        self.data.validate()
        self.model.validate()
        self.train.validate()
        cols = max(self.data.l_tr, self.data.l_ts) + 1
        ok = not self.model.positions or self.model.positions >= cols
        _check(ok, "positions", f">= {cols} (the longest prompt's columns)", self.model.positions)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def non_default_dict(self) -> dict[str, Any]:
        """Only the fields that differ from their defaults (plus the seed): what a
        content hash needs, stable when a new field with a default is added."""
        out: dict[str, Any] = {"seed": self.seed}
        for sec in ("data", "model", "train"):
            obj = getattr(self, sec)
            default = type(obj)()
            diff = {
                f.name: getattr(obj, f.name)
                for f in dataclasses.fields(obj)
                if getattr(obj, f.name) != getattr(default, f.name)
            }
            if diff:
                out[sec] = diff
        return out

    @staticmethod
    def from_dict(d: dict[str, Any]) -> RunConfig:
        return RunConfig(
            data=DataConfig(**d.get("data", {})),
            model=ModelConfig(**d.get("model", {})),
            train=TrainConfig(**d.get("train", {})),
            seed=int(d.get("seed", 0)),
        )

    def shape_key(self) -> tuple:
        """Runs with equal shape keys can share one ensemble's tensors."""
        ma, mb = self.model.dims(self.data.d)
        return (
            self.data.M1,
            self.data.M2,
            self.data.M1_ood,
            self.data.dX,
            self.data.dY,
            self.data.l_tr,
            self.data.l_ts,
            self.model.m,
            ma,
            mb,
            self.model.train_a,
            self.train.steps,
            self.train.batch,
            self.train.eval_every,
            self.train.n_eval,
            self.train.chunk,
            self.train.balanced_labels,
            self.train.loss_limit,
            self.train.checkpoint_ood,
            self.model.arch,
            self.model.depth,
            self.model.heads,
            self.model.width,
            self.model.deep_mlp_width,
            self.model.mask,
            self.model.positions,
            self.train.optimizer,
        )


def gram_matrix(cfg: DataConfig, norms: torch.Tensor) -> torch.Tensor:
    """Target Gram matrix of the M1 + M2 patterns: block-constant cosines scaled by norms."""
    M1, M2 = cfg.M1, cfg.M2
    n = M1 + M2
    cos = torch.empty(n, n, dtype=torch.float64)
    cos[:M1, :M1] = cfg.coherence_rel
    cos[M1:, M1:] = cfg.coherence_irr
    cos[:M1, M1:] = cfg.coherence_cross
    cos[M1:, :M1] = cfg.coherence_cross
    cos.fill_diagonal_(1.0)
    return norms[:, None] * cos * norms[None, :]


def split_name(name: str) -> tuple[str, str]:
    """A dotted parameter name as (section, key): "data.alpha" -> ("data", "alpha"),
    "prune.fraction" -> ("prune", "fraction"). The one parser of the names that grid axes, eval
    points and records use."""
    section, _, key = name.partition(".")
    return section, key
