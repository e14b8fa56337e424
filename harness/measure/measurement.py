"""What a trained model's measurement is: per eval point (Measurement), per model (Probes), both per
member.

`measure_ensemble` returns these; the stored record (harness.claims.record) holds them as they are,
and claims read their metrics off them (harness.claims.metrics)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from harness.core.fields import expect, from_fields

HINGE_FIELDS = ("hinge_loss_id", "hinge_loss_ood", "hinge_sd_id", "hinge_sd_ood")


@dataclass
class Measurement:
    """Error counts, hinge loss and same-pattern attention mass of one model at one eval point on n
    test prompts each."""

    point: dict[str, Any]
    n: int
    err_id: int  # errors on unseen in-domain tasks
    err_ood: int  # errors on OOD tasks (-1: not measured, e.g. a classical baseline)
    attn_id: float
    attn_ood: float
    attn_id_layers: list = field(default_factory=list)  # deep model only: [L][H]
    attn_ood_layers: list = field(default_factory=list)
    # mean hinge loss max(0, 1 - z F) over the n prompts and its standard deviation over prompts
    # (None: not measured, e.g. a classical baseline, which has labels but no output F)
    hinge_loss_id: float | None = None
    hinge_loss_ood: float | None = None
    hinge_sd_id: float | None = None
    hinge_sd_ood: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Measurement:
        m = from_fields(cls, data, optional=("attn_id_layers", "attn_ood_layers") + HINGE_FIELDS)
        expect(m.point, dict, "Measurement.point")
        for name in ("n", "err_id", "err_ood"):
            expect(getattr(m, name), int, f"Measurement.{name}")
        for name in ("attn_id", "attn_ood"):
            expect(getattr(m, name), (int, float), f"Measurement.{name}")
        for name in HINGE_FIELDS:
            if getattr(m, name) is not None:
                expect(getattr(m, name), (int, float), f"Measurement.{name}")
        return m


@dataclass
class Probes:
    """Neuron probes of one trained model (NaN where the model has no such neurons or diverged)."""

    label_alignment: float
    feature_alignment: float
    large_neuron_fraction: float
    norm_ratio: float
    # norms of the W_O rows (neurons), for the norm histogram
    row_norms: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Probes:
        p = from_fields(cls, data)
        for f in dataclasses.fields(cls):
            if f.name != "row_norms":
                expect(getattr(p, f.name), (int, float), f"Probes.{f.name}")
        for x in expect(p.row_norms, list, "Probes.row_norms"):
            expect(x, (int, float), "Probes.row_norms[]")
        return p


@dataclass
class MemberMeasures:
    """Everything measure_ensemble measured for one ensemble member."""

    measurements: list[Measurement]
    probes: Probes
