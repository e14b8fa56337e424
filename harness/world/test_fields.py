"""Which config fields only change what a trained model is tested on, never its weights.

Training draws its prompts from the in-domain patterns and the training tasks alone (every
random draw has its own derived seed, harness.world.seeding), so the test prompts' settings and
the OOD readings (ODR patterns never enter training) leave the trained weights bit-identical; a
test checks it. The checkpoint curves (harness.training.history) do read them: they are the
"curve reading" of a training, recorded with it.
"""

from __future__ import annotations

from typing import Any

from harness.world.config import RunConfig

# the in-domain test prompts' settings, then the OOD patterns' and prompts' settings
ID_PROMPT_KEYS = ("l_ts", "alpha_test", "test_sampling", "test_on")
OOD_PROMPT_KEYS = ID_PROMPT_KEYS + (
    "S1",
    "ood_coef_mode",
    "ood_spread",
    "ood_renormalise",
    "ood_coef_spread",
    "K_ood",
    "odi_outside",
    "M1_ood",
)
TEST_DATA_FIELDS = OOD_PROMPT_KEYS
# training settings that only change the checkpoint curves, not the weights
CURVE_TRAIN_FIELDS = ("eval_every", "n_eval", "checkpoint_ood")


def training_part(run: RunConfig) -> dict[str, Any]:
    """The run config's non-default values that determine the trained weights (seed included)."""
    out = run.non_default_dict()
    for sec, drop in (("data", TEST_DATA_FIELDS), ("train", CURVE_TRAIN_FIELDS)):
        kept = {k: v for k, v in out.get(sec, {}).items() if k not in drop}
        if kept:
            out[sec] = kept
        else:
            out.pop(sec, None)
    return out


def curve_reading(run: RunConfig) -> dict[str, Any]:
    """Every value the checkpoint curves read beyond the weights: the test prompts' settings and the
    checkpoint schedule."""
    return {
        "data": {k: getattr(run.data, k) for k in TEST_DATA_FIELDS},
        "train": {k: getattr(run.train, k) for k in CURVE_TRAIN_FIELDS},
    }
