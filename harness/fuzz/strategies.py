"""Hypothesis strategies for pattern configurations, the knobs they bend, and the fuzz settings
profiles.

Strategies only produce valid DataConfigs (`DataConfig.validate()` passes; the block-constant cosine
matrix is positive definite by construction):

- `nominal_data()`: inside every assumption and regime check (harness.fuzz.assumptions):
  orthogonal patterns, beta in [1, 2], K, K' <= 1/2, alpha and alpha' with room (alpha' >= 0.5 and
  not more than 0.2 below alpha), uniform coverage, S1 in [2, 3] with non-negative ODR coefficients,
  no noise;
- `violating_data()`: bends one or a few *knobs* (`KNOBS`) away from a base:
  pairwise coherences within IDR / within IDI / across (positive-definite), norm jitter, beta < 1, K
  or K' beyond 1/2, additive noise, S1 < 1, ODR coefficient spread, ODI partly outside span(IDI),
  unbalanced coverage (a missing pattern or one label side, any |T_tr|), alpha or alpha' near 0;
- `nominal_runs()`: nominal RunConfigs, also inside the seed-dependent checks (T_tr's task graph);
- `run_configs()` / `batches()`: RunConfigs whose torch seed Hypothesis draws,
  so every failure replays; a batch trains as one ensemble (the fast path).

`fuzz_settings("cheap" | "train")` gives the CI ("quick") or nightly settings
(ICLCHECK_FUZZ_PROFILE): no deadline; the training properties never shrink (each shrink step would
retrain) and keep failing examples in results/fuzz/db/ (DirectoryBasedExampleDatabase)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from harness.fuzz.assumptions import (
    ALPHA0,
    ALPHA_SHIFT,
    CONTEXT_CONSTANT,
    ITERS_AT_ALPHA0,
    S1_REGIME,
    check_assumptions,
)
from harness.fuzz.profiles import ANCHOR, DEFAULT_ROOT, FuzzProfile, get_profile, resolve_root
from harness.world.config import DataConfig, RunConfig

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)

# ----------------------------------------------------------------------
# knobs: what a violating configuration may bend


@dataclass(frozen=True)
class Knob:
    name: str
    fields: tuple[str, ...]  # DataConfig fields it moves (together)
    scale: float  # |departure| / scale = its distance from the anchor
    assumption: str  # the check (harness.fuzz.assumptions) it bends
    continuous: bool = True  # False: only all-or-nothing shrinking
    guaranteed: bool = True  # every drawn value violates `assumption` (False: it may)


KNOBS: dict[str, Knob] = {
    k.name: k
    for k in (
        Knob("coherence_rel", ("coherence_rel",), 1.0, "orthogonal_idr"),
        Knob("coherence_irr", ("coherence_irr",), 1.0, "orthogonal_idi"),
        Knob("coherence_cross", ("coherence_cross",), 1.0, "orthogonal_cross"),
        Knob("beta", ("beta",), 1.0, "beta_at_least_1"),
        Knob("beta_jitter", ("beta_jitter",), 1.0, "equal_norms"),
        Knob("K", ("K",), 0.5, "K_at_most_half"),
        Knob("K_ood", ("K_ood",), 0.5, "K_ood_at_most_half"),
        Knob("noise", ("noise",), 1.0, "no_noise"),
        Knob("S1", ("S1",), 1.0, "S1_at_least_1"),
        Knob("ood_coef_spread", ("ood_coef_spread",), 1.0, "regime_coef_sign", guaranteed=False),
        Knob("odi_outside", ("odi_outside",), 1.0, "odi_in_span"),
        Knob(
            "coverage",
            ("coverage", "n_train_tasks", "coverage_pattern"),
            1.0,
            "uniform_coverage",
            continuous=False,
        ),
        Knob("alpha", ("alpha",), 1.0, "regime_iterations"),
        Knob("alpha_test", ("alpha_test",), 1.0, "regime_test_context"),
    )
}


def alpha_min(steps: int) -> float:
    """Smallest alpha the iteration-budget regime check accepts at `steps` iterations."""
    return ALPHA0 * (steps / ITERS_AT_ALPHA0) ** (-1.5)


def moved_knobs(cfg: DataConfig, anchor: DataConfig = ANCHOR) -> list[Knob]:
    return [
        k for k in KNOBS.values() if any(getattr(cfg, f) != getattr(anchor, f) for f in k.fields)
    ]


def distance(cfg: DataConfig, anchor: DataConfig = ANCHOR) -> float:
    """How far `cfg` is from the anchor, summed over knobs (|departure| / scale; 1 per moved
    discrete knob)."""
    d = 0.0
    for k in moved_knobs(cfg, anchor):
        if k.continuous:
            d += (
                sum(abs(float(getattr(cfg, f)) - float(getattr(anchor, f))) for f in k.fields)
                / k.scale
            )
        else:
            d += 1.0
    return d


# ----------------------------------------------------------------------
# strategies


def _signed(lo: float, hi: float, neg_lo: float | None) -> st.SearchStrategy[float]:
    """A value in [lo, hi], or in [neg_lo, -lo] when neg_lo is given (a departure of at least lo
    either way)."""
    pos = st.floats(lo, hi)
    return pos if neg_lo is None or neg_lo > -lo else st.one_of(pos, st.floats(neg_lo, -lo))


@st.composite
def coherences(
    draw,
    M1: int = ANCHOR.M1,
    M2: int = ANCHOR.M2,
    rel: bool = True,
    irr: bool = True,
    cross: bool = True,
    max_abs: float = 0.95,
) -> dict[str, float]:
    """Block-constant cosines (rel within IDR, irr within IDI, cross between) giving a
    positive-definite Gram matrix.

    The cosine matrix is PD iff 1 - rel > 0, 1 - irr > 0, a = 1 + (M1 - 1) rel > 0, b = 1 + (M2 - 1)
    irr > 0 and cross^2 M1 M2 < a b; each active coherence departs from 0 by at least 0.02 (cross:
    10% of its bound)."""
    out = {}
    r = draw(_signed(0.02, max_abs, -max_abs / (M1 - 1))) if rel else 0.0
    s = draw(_signed(0.02, max_abs, -max_abs / (M2 - 1))) if irr else 0.0
    if rel:
        out["coherence_rel"] = r
    if irr:
        out["coherence_irr"] = s
    if cross:
        a, b = 1 + (M1 - 1) * r, 1 + (M2 - 1) * s
        bound = math.sqrt(a * b / (M1 * M2))
        out["coherence_cross"] = draw(_signed(0.1, 0.9, -0.9)) * bound
    return out


def knob_values(knob: str, base: DataConfig, steps: int = 400) -> st.SearchStrategy[dict]:
    """Values of one knob that violate its assumption (coherences: see `coherences`)."""
    if knob.startswith("coherence_"):
        return coherences(
            base.M1,
            base.M2,
            rel=knob == "coherence_rel",
            irr=knob == "coherence_irr",
            cross=knob == "coherence_cross",
        )
    one = lambda name, s: s.map(lambda v: {name: v})  # noqa: E731
    if knob == "beta":
        return one("beta", st.floats(0.3, 0.98))
    if knob == "beta_jitter":
        return one("beta_jitter", st.floats(0.05, 0.9))
    if knob in ("K", "K_ood"):
        return one(knob, st.floats(0.55, 5.0))
    if knob == "noise":
        return one("noise", st.floats(0.05, 3.0))
    if knob == "S1":
        return one("S1", st.floats(-1.0, 0.95))
    if knob == "ood_coef_spread":
        return one("ood_coef_spread", st.floats(0.6, 4.0))
    if knob == "odi_outside":
        return one("odi_outside", st.floats(0.05, 1.0))
    if knob == "coverage":
        M = base.M1
        n_missing, n_one_side = (M - 1) * (M - 2), M * (M - 1) - (M - 1)
        return st.one_of(
            st.builds(
                lambda n, j: {
                    "coverage": "missing_pattern",
                    "n_train_tasks": n,
                    "coverage_pattern": j,
                },
                st.integers(1, n_missing),
                st.integers(0, M - 1),
            ),
            st.builds(
                lambda n, j: {
                    "coverage": "one_label_side",
                    "n_train_tasks": n,
                    "coverage_pattern": j,
                },
                st.integers(1, n_one_side),
                st.integers(0, M - 1),
            ),
        )
    if knob == "alpha":
        return one("alpha", st.floats(0.03, 0.95 * alpha_min(steps)))
    if knob == "alpha_test":
        return one("alpha_test", st.floats(0.05, 0.95 * CONTEXT_CONSTANT / base.l_ts))
    raise ValueError(f"knob must be one of {sorted(KNOBS)}, got {knob!r}")


@st.composite
def nominal_data(draw, anchor: DataConfig = ANCHOR, steps: int = 400) -> DataConfig:
    """A configuration inside every theory assumption and regime check (at `steps` iterations)."""
    M = anchor.M1
    lo_alpha = min(1.0, math.ceil(alpha_min(steps) * 1.02 * 100) / 100)
    lo_alpha_test = min(1.0, math.ceil(CONTEXT_CONSTANT / anchor.l_ts * 100) / 100)
    alpha = draw(st.floats(lo_alpha, 1.0))
    cfg = dataclasses.replace(
        anchor,
        beta=draw(st.floats(1.0, 2.0)),
        K=draw(st.floats(0.0, 0.5)),
        K_ood=draw(st.floats(0.0, 0.5)),
        alpha=alpha,
        alpha_test=draw(st.floats(max(lo_alpha_test, min(1.0, alpha - ALPHA_SHIFT + 0.01)), 1.0)),
        test_sampling=draw(st.sampled_from(["iid", "exact"])),
        n_train_tasks=M * draw(st.integers(1, M - 2)),
        coverage="uniform",
        S1=draw(st.floats(S1_REGIME, S1_REGIME + 1.0)),
        # g = 2: coefficients S1 (1/2 + s (u - mean u)) stay >= 0 for s <= 1/2
        ood_coef_spread=draw(st.floats(0.0, 0.5)),
    )
    return cfg.validate()


@st.composite
def violating_data(
    draw,
    knobs: Sequence[str] = tuple(KNOBS),
    min_knobs: int = 1,
    max_knobs: int = 2,
    base: st.SearchStrategy[DataConfig] | None = None,
    anchor: DataConfig = ANCHOR,
    steps: int = 400,
) -> DataConfig:
    """A base configuration (the anchor, or drawn from `base`) with 1..max_knobs knobs bent past
    their assumption."""
    cfg = draw(base) if base is not None else anchor
    chosen = draw(
        st.sets(
            st.sampled_from(sorted(knobs)), min_size=min_knobs, max_size=max(min_knobs, max_knobs)
        )
    )
    upd: dict = {}
    coh = sorted(k for k in chosen if k.startswith("coherence_"))
    if coh:
        upd.update(
            draw(
                coherences(
                    cfg.M1,
                    cfg.M2,
                    rel="coherence_rel" in coh,
                    irr="coherence_irr" in coh,
                    cross="coherence_cross" in coh,
                )
            )
        )
    for k in sorted(set(chosen) - set(coh)):
        upd.update(draw(knob_values(k, cfg, steps)))
    return dataclasses.replace(cfg, **upd).validate()


def any_data(anchor: DataConfig = ANCHOR, steps: int = 400) -> st.SearchStrategy[DataConfig]:
    """Nominal or violating (any number of knobs, around a nominal base)."""
    return st.one_of(
        nominal_data(anchor, steps),
        violating_data(
            max_knobs=len(KNOBS), base=nominal_data(anchor, steps), anchor=anchor, steps=steps
        ),
    )


def run_configs(
    data: st.SearchStrategy[DataConfig], profile: FuzzProfile | None = None
) -> st.SearchStrategy[RunConfig]:
    """RunConfigs of the profile's training setting, with a Hypothesis-drawn torch seed."""
    p = profile or get_profile()
    return st.builds(p.run, data, SEEDS)


def nominal_runs(
    profile: FuzzProfile | None = None, anchor: DataConfig = ANCHOR
) -> st.SearchStrategy[RunConfig]:
    """Runs inside every assumption and regime check for their own seed: `nominal_data` fixes
    everything but the seed-dependent T_tr, whose two-class shortcut
    (assumptions.task_graph_shortcut) is filtered here (~10% rejected)."""
    p = profile or get_profile()

    def ok(r: RunConfig) -> bool:
        return not check_assumptions(r.data, seed=r.seed, train=r.train).violated()

    return run_configs(nominal_data(anchor, p.steps), p).filter(ok)


def batches(
    data: st.SearchStrategy[DataConfig] | None = None,
    size: int = 8,
    profile: FuzzProfile | None = None,
    runs: st.SearchStrategy[RunConfig] | None = None,
) -> st.SearchStrategy[list[RunConfig]]:
    """`size` configurations (from `data` with drawn seeds, or from `runs`) with distinct seeds,
    trained as one ensemble (noisy ones apart, see outcomes.measure)."""
    strategy = runs if runs is not None else run_configs(data, profile)
    return st.lists(strategy, min_size=size, max_size=size, unique_by=lambda r: r.seed)


# ----------------------------------------------------------------------
# settings


def example_database(root: Path | str = DEFAULT_ROOT) -> DirectoryBasedExampleDatabase:
    return DirectoryBasedExampleDatabase(str(resolve_root(root) / "db"))


NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)


def fuzz_settings(
    kind: str, profile: str | None = None, root: Path | str = DEFAULT_ROOT
) -> settings:
    """Settings of the fuzz tests: kind "cheap" (assumption checks; shrinking on) or "train" (trains
    models: few examples, no shrinking). Both: no deadline, failing examples kept in ROOT/db/."""
    p = get_profile(profile)
    common = dict(
        deadline=None,
        database=example_database(root),
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    if kind == "cheap":
        return settings(max_examples=p.cheap_examples, **common)
    if kind == "train":
        return settings(
            max_examples=p.train_examples, phases=NO_SHRINK, report_multiple_bugs=False, **common
        )
    raise ValueError(f"kind must be 'cheap' or 'train', got {kind!r}")
