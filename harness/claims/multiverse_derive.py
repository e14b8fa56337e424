"""A claim under one alternative (a Claim copy with the overrides applied), or the stated reason it
cannot be; and the robustness label of a claim's multiverse (ROBUST, FRAGILE, PARTIAL).

A derived claim keeps the claim's id, so its seeds are the main setting's (the claim id, the train
point and the replicate derive them): an alternative that changes only the analysis (metric, fit
range) reuses the main setting's stored models, and one that changes the setting is paired with it
seed for seed. An alternative is skipped, always with a reason, when the claim file narrows it away,
when `applies_to` leaves the claim out, when it sets an axis the claim varies in its grid (or a
value the claim already has), or when the derived claim is not valid (a run configuration, the
metric or the kind's prediction check fails)."""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass

from harness.claims.claim import Claim, point_config
from harness.claims.grid import cartesian
from harness.claims.kinds import KINDS
from harness.claims.metrics import METRICS, check_metric
from harness.claims.multiverse import Alternative
from harness.claims.world_split import DEFAULT_WORLDS
from harness.world.config import split_name

ROBUST, FRAGILE, PARTIAL, NO_MULTIVERSE = "ROBUST", "FRAGILE", "PARTIAL", "—"
# the main verdict is undecided (INCONCLUSIVE or ERROR) and some alternative decides it
CONTINGENT = "CONTINGENT"
DECISIVE = ("CONFIRMED", "REFUTED")
MIN_HALF_POINTS = 3  # a rate fit needs 3 valid points


@dataclass
class Variant:
    """A claim under one alternative: `claim` to run, or `skipped`, the reason it does not run."""

    alternative: Alternative
    claim: Claim | None
    skipped: str = ""


def claim_tags(c: Claim) -> set[str]:
    """What `applies_to` matches: the claim's id and kind, `metric:NAME`, `domain:id|ood`,
    `arch:NAME`."""
    arch = c.base_run.get("model", {}).get("arch", "paper")
    return {
        c.id,
        c.kind,
        f"metric:{c.metric.get('name')}",
        f"domain:{c.metric.get('domain', 'id')}",
        f"arch:{arch}",
    }


def _half(c: Claim, which: str) -> tuple[dict[str, list], str]:
    """The grid with the rate's x axis cut to its lower or upper half (at least 3 points), or ({},
    reason)."""
    x = c.metric.get("x", "")
    if x not in c.grid:
        return {}, f"the fitted axis {x!r} is not a plain grid axis of this claim"
    values = sorted(c.grid[x])
    n = max(MIN_HALF_POINTS, math.ceil(len(values) / 2))
    if n >= len(values):
        return (
            {},
            f"{x} has {len(values)} grid points: a half-range fit needs at least "
            f"{MIN_HALF_POINTS + 1}",
        )
    keep = set(values[:n] if which == "lower_half" else values[-n:])
    return {**c.grid, x: [v for v in c.grid[x] if v in keep]}, ""


def _apply(c: Claim, alt: Alternative) -> tuple[Claim | None, str]:
    base = copy.deepcopy(c.base_run)
    grid, metric = dict(c.grid), dict(c.metric)
    main = point_config(c, {})
    for key, value in alt.set.items():
        if key in c.axis_names:
            return (
                None,
                f"the claim varies {key} in its grid ({c.grid.get(key, 'a compound axis')})",
            )
        sec, k = split_name(key)
        if getattr(getattr(main, sec), k) == value:
            return None, f"the claim's own setting already has {key} = {value!r}"
        base.setdefault(sec, {})[k] = value
    if alt.steps_scale:
        if "train.steps" in c.axis_names:
            return None, "the claim varies train.steps in its grid"
        base.setdefault("train", {})["steps"] = max(1, round(main.train.steps * alt.steps_scale))
    if alt.metric:
        if alt.metric not in METRICS:
            return (
                None,
                f"metric {alt.metric!r} is not registered in this version (it runs once it is)",
            )
        if alt.metric == metric.get("name"):
            return None, f"the claim's own metric is already {alt.metric!r}"
        metric["name"] = alt.metric
    if alt.worlds:
        if c.kind == "figure":
            return None, "the figure kind judges each world apart under every reading"
        if metric.get("worlds", DEFAULT_WORLDS) == alt.worlds:
            return None, f"the claim's own worlds reading is already {alt.worlds!r}"
        metric["worlds"] = alt.worlds
    if alt.fit_range and alt.fit_range != "all":
        if not KINDS.get(c.kind).fitted:
            return None, f"fit_range applies to rate claims (this claim is a {c.kind})"
        grid, why = _half(c, alt.fit_range)
        if why:
            return None, why
    elif alt.fit_range == "all" and not (alt.set or alt.metric or alt.steps_scale or alt.worlds):
        return None, "the whole range is the main setting's fit"
    return dataclasses.replace(c, base_run=base, grid=grid, metric=metric), ""


def invalid_reason(d: Claim) -> str:
    """Why a derived claim is not valid ('' when it is): a grid point's run configuration, the
    metric, the kind."""
    try:
        for point in cartesian(d.grid):
            point_config(d, point)
        kind = KINDS.get(d.kind)
        problem = check_metric(d) or kind.check_claim(d) or kind.check(d.metric, d.prediction)
    except (ValueError, TypeError) as exc:
        return f"the configuration is invalid under it: {exc}"
    return f"{problem[0]}: {problem[1]}" if problem else ""


def derive(c: Claim, alt: Alternative, narrowing: dict[str, str] | None = None) -> Variant:
    """The claim under `alt`, or the reason it is skipped."""
    if narrowing and alt.name in narrowing:
        return Variant(alt, None, f"skipped by the claim file: {narrowing[alt.name]}")
    if alt.applies_to and not set(alt.applies_to) & claim_tags(c):
        mine = ", ".join(sorted(claim_tags(c) - {c.id}))
        return Variant(
            alt, None, f"applies to {', '.join(alt.applies_to)} only (this claim: {mine})"
        )
    d, why = _apply(c, alt)
    if d is None:
        return Variant(alt, None, why)
    bad = invalid_reason(d)
    return Variant(alt, None, bad) if bad else Variant(alt, d)


def derive_all(
    c: Claim, alts: list[Alternative], narrowing: dict[str, str] | None = None
) -> list[Variant]:
    return [derive(c, a, narrowing) for a in alts]


@dataclass
class Label:
    """A claim's robustness: ROBUST, FRAGILE (with the flipping alternatives), PARTIAL, or — (none
    ran)."""

    label: str
    flips: list[str]  # alternatives whose decisive verdict differs from the main one
    undecided: list[str]  # alternatives INCONCLUSIVE or ERROR where the main verdict is not


def robustness(main: str, alternatives: list[tuple[str, str]]) -> Label:
    """Label a claim from its main verdict and (alternative name, verdict) of every alternative that
    ran.

    FRAGILE: the main verdict is decisive (CONFIRMED or REFUTED) and some alternative reaches the
    other decisive verdict; CONTINGENT: the main verdict is undecided
    (INCONCLUSIVE or ERROR) and some alternative decides it (the alternatives in `flips`);
    PARTIAL: no alternative decides otherwise, but some alternative's undecided verdict differs
    from the main one; ROBUST: every alternative gives the main verdict; — when none ran."""
    if not alternatives:
        return Label(NO_MULTIVERSE, [], [])
    flips = [n for n, v in alternatives if v in DECISIVE and v != main]
    undecided = [n for n, v in alternatives if v not in DECISIVE and v != main]
    if flips:
        return Label(FRAGILE if main in DECISIVE else CONTINGENT, flips, undecided)
    return Label(PARTIAL if undecided else ROBUST, [], undecided)


__all__ = [
    "Variant",
    "derive",
    "invalid_reason",
    "derive_all",
    "claim_tags",
    "robustness",
    "Label",
    "ROBUST",
    "FRAGILE",
    "CONTINGENT",
    "PARTIAL",
    "NO_MULTIVERSE",
]
