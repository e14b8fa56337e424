"""What the fuzzing layer runs: the anchor world, the sweep axes (one assumption bent each) and the
quick/nightly profiles."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from harness.run.paths import fuzz_root
from harness.world.config import DataConfig, ModelConfig, RunConfig, TrainConfig


class _DefaultRoot:
    """The default fuzz folder, resolved when used (results/fuzz, or under $ICLCHECK_RESULTS at that
    moment)."""

    def __repr__(self) -> str:
        return "DEFAULT_ROOT"


# records/, db/, latest/ (the committed report is results/reference/fuzz/)
DEFAULT_ROOT = _DefaultRoot()


def resolve_root(root: Path | str | _DefaultRoot) -> Path:
    """A fuzz folder argument as a path: DEFAULT_ROOT becomes run.paths.fuzz_root() now, not at
    import."""
    return fuzz_root() if isinstance(root, _DefaultRoot) else Path(root)


EPS = 0.05
CONFIDENCE = 0.95
# the paper's orthogonal world; S1 = 2 so that the OOD claim holds at the anchor
ANCHOR = DataConfig(S1=2.0)
# the budget probe retrains the breaking grid points with this many times the steps
BUDGET_FACTOR = 3


@dataclass(frozen=True)
class Axis:
    """One assumption bent alone: `fields` of the anchor all set to each value, in order of growing
    violation."""

    name: str
    fields: tuple[str, ...]
    values: tuple[float, ...]
    assumption: str  # the check (harness.fuzz.assumptions) this axis bends
    label: str
    group: str  # figure: "coherence" | "noise" | "other"
    # "assumption": bends a stated assumption; "constant": probes a hidden constant (alpha edges)
    role: str = "assumption"
    fixed: tuple[tuple[str, float], ...] = ()  # other anchor fields set for the whole axis

    def data(self, value: float, anchor: DataConfig = ANCHOR) -> DataConfig:
        return dataclasses.replace(anchor, **dict(self.fixed), **{f: value for f in self.fields})


def _grid(lo: float, hi: float, step: float) -> tuple[float, ...]:
    n = int(round((hi - lo) / step))
    return tuple(round(lo + i * step, 10) for i in range(n + 1))


@dataclass(frozen=True)
class FuzzProfile:
    name: str
    steps: int  # SGD iterations per trained configuration
    n_test: int  # fresh test prompts per member and domain
    replicates: int  # sweep replicates (seeds shared across grid points)
    axes: tuple[Axis, ...]
    campaign_batches: int  # Hypothesis examples of the campaign (each a batch of configurations)
    campaign_batch: int  # configurations per campaign example (one ensemble)
    minimize_rounds: int  # rounds of batched shrinking toward the anchor
    minimize_max: int  # failing configurations to minimise
    cheap_examples: int  # examples of the cheap property tests
    train_examples: int  # examples of the expensive property tests
    train_batch: int  # configurations per expensive example
    eps: float = EPS
    max_members: int = 64  # members per ensemble (memory)

    def train_config(self) -> TrainConfig:
        # one checkpoint at the end; the claims read the fresh n_test prompts, not the checkpoints
        return TrainConfig(
            steps=self.steps,
            batch=64,
            eta=1.0,
            eval_every=self.steps,
            n_eval=32,
            checkpoint_ood=False,
        )

    def run(self, data: DataConfig, seed: int) -> RunConfig:
        return RunConfig(data=data, model=ModelConfig(), train=self.train_config(), seed=seed)


def _axes(fine: bool) -> tuple[Axis, ...]:
    coh = (
        _grid(0.0, 0.95, 0.05)
        if fine
        else (0.0, 0.2, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 0.95)
    )
    return (
        Axis(
            "coherence_all",
            ("coherence_rel", "coherence_irr", "coherence_cross"),
            coh,
            "orthogonal_idr",
            "all pairwise cosines = c (IDR-IDR, IDI-IDI, IDR-IDI)",
            "coherence",
        ),
        Axis(
            "coherence_rel",
            ("coherence_rel",),
            coh,
            "orthogonal_idr",
            "cosine between IDR patterns",
            "coherence",
        ),
        Axis(
            "coherence_irr",
            ("coherence_irr",),
            _grid(0.0, 0.95, 0.05) if fine else (0.0, 0.3, 0.6, 0.9),
            "orthogonal_idi",
            "cosine between IDI patterns",
            "coherence",
        ),
        Axis(
            "coherence_cross",
            ("coherence_cross",),
            (0.0, 0.02, 0.04, 0.06, 0.08) if fine else (0.0, 0.04, 0.08),
            "orthogonal_cross",
            "cosine between every IDR and IDI pattern (positive-definite only below 1/sqrt(M1 M2) "
            "= 0.083)",
            "coherence",
        ),
        Axis(
            "noise",
            ("noise",),
            _grid(0.0, 4.0, 0.25) if fine else (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0),
            "no_noise",
            "expected norm of additive Gaussian input noise (patterns have norm 1)",
            "noise",
        ),
        Axis(
            "S1",
            ("S1",),
            _grid(0.5, 2.5, 0.125)[::-1] if fine else (2.0, 1.75, 1.5, 1.25, 1.0, 0.75, 0.5),
            "S1_at_least_1",
            "ODR coefficient sum S1",
            "other",
        ),
        Axis(
            "K",
            ("K", "K_ood"),
            (0.5, 1.0, 2.0, 4.0, 8.0) if fine else (0.5, 1.0, 2.0, 4.0),
            "K_at_most_half",
            "kappa range K = K' (in-domain and OOD)",
            "other",
        ),
        Axis(
            "odi_outside",
            ("odi_outside",),
            _grid(0.0, 1.0, 0.125) if fine else (0.0, 0.5, 1.0),
            "odi_in_span",
            "fraction of ODI norm outside span(IDI)",
            "other",
        ),
        Axis(
            "beta_jitter",
            ("beta_jitter",),
            _grid(0.0, 0.9, 0.15) if fine else (0.0, 0.45, 0.9),
            "equal_norms",
            "pattern norms drawn in [1 - j, 1 + j]",
            "other",
        ),
        Axis(
            "beta",
            ("beta",),
            _grid(0.4, 1.0, 0.05)[::-1] if fine else (1.0, 0.9, 0.8, 0.7, 0.6, 0.5),
            "beta_at_least_1",
            "pattern norm beta below 1",
            "other",
        ),
        Axis(
            "alpha",
            ("alpha",),
            (0.8, 0.6, 0.5, 0.4, 0.35, 0.3, 0.275, 0.25, 0.2, 0.15, 0.1)
            if fine
            else (0.8, 0.5, 0.35, 0.3, 0.25, 0.15),
            "context_length",
            "training alpha towards 0 (l_tr = 20)",
            "other",
            role="constant",
        ),
        Axis(
            "alpha_test",
            ("alpha_test",),
            (0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15)
            if fine
            else (0.8, 0.6, 0.5, 0.4, 0.3, 0.2),
            "context_length",
            "test alpha' towards 0 (l_ts = 20)",
            "other",
            role="constant",
        ),
        Axis(
            "alpha_gap",
            ("alpha_test",),
            (1.0, 0.9, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45)
            if fine
            else (1.0, 0.8, 0.7, 0.6, 0.5),
            "context_length",
            "training alpha = 1 (the edge), test alpha' below it (l = 20)",
            "other",
            role="constant",
            fixed=(("alpha", 1.0),),
        ),
    )


PROFILES: dict[str, FuzzProfile] = {
    "quick": FuzzProfile(
        name="quick",
        steps=400,
        n_test=500,
        replicates=5,
        axes=_axes(False),
        campaign_batches=8,
        campaign_batch=8,
        minimize_rounds=2,
        minimize_max=8,
        cheap_examples=60,
        train_examples=4,
        train_batch=8,
    ),
    "nightly": FuzzProfile(
        name="nightly",
        steps=400,
        n_test=2000,
        replicates=8,
        axes=_axes(True),
        campaign_batches=30,
        campaign_batch=12,
        minimize_rounds=4,
        minimize_max=24,
        cheap_examples=500,
        train_examples=25,
        train_batch=12,
    ),
}


def get_profile(name: str | None = None) -> FuzzProfile:
    """The named profile, else ICLCHECK_FUZZ_PROFILE, else quick."""
    name = name or os.environ.get("ICLCHECK_FUZZ_PROFILE") or "quick"
    if name not in PROFILES:
        raise ValueError(f"fuzz profile must be one of {sorted(PROFILES)}, got {name!r}")
    return PROFILES[name]
