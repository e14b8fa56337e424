"""The parts of docs/claim-files.md read from the code that defines them: every grid axis (each
setting field, with its default and the comment that explains it in harness/world/config.py, and
whether it changes the weights or only the test), the pruning and baseline axes, and every named
reading (the OOD spreads and renormalisation, the test samplings, the pruning rules, the
baselines, the mixture factors, the regimes)."""

from __future__ import annotations

import dataclasses
import inspect
import re

FIELD_LINE = re.compile(r"^\s+(\w+): [^=]+=\s*.+?(?:#\s*(.*))?$")


def field_meanings(cls: type) -> dict[str, str]:
    """Each dataclass field's meaning: its trailing comment, else the comment lines right above it
    (the source is the documentation, so the two cannot drift apart)."""
    out: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# ").strip())
            continue
        m = FIELD_LINE.match(line)
        if m and m.group(1) in {f.name for f in dataclasses.fields(cls)}:
            out[m.group(1)] = (m.group(2) or " ".join(above)).strip()
        above = []
    return out


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def axes_section() -> list[str]:
    """Every grid axis: `section.key`, its default, train or eval, and what it means."""
    from harness.claims.claim import is_eval_axis
    from harness.measure.baselines import METHODS
    from harness.measure.pruning import PRUNE_MODES
    from harness.world.config import DataConfig, ModelConfig, TrainConfig

    rows = [
        'Any setting field is a grid axis (`[grid] "data.S1" = [0.5, 1.0]`) and a key of',
        "`[setting.data]`, `[setting.model]` or `[setting.train]`. A *train* axis changes the",
        "trained weights (one model per value); an *eval* axis changes only what a trained model",
        "is tested on (the same models measured again). A compound axis sets several at once:",
        '`"train.batch,train.steps" = [[16, 800], [64, 200]]`.',
        "",
        "| axis | default | train or eval | what it means |",
        "|---|---|---|---|",
    ]
    for sec, cls in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)):
        meaning = field_meanings(cls)
        for f in dataclasses.fields(cls):
            axis = f"{sec}.{f.name}"
            kind = "eval" if is_eval_axis(axis) else "train"
            rows.append(
                f"| `{axis}` | `{f.default!r}` | {kind} | {_cell(meaning.get(f.name, ''))} |"
            )
    rows += [
        f"| `prune.mode` | | eval | the pruning rule: {', '.join(PRUNE_MODES)} |",
        "| `prune.fraction` | | eval | the share of W_O's rows (MLP neurons) pruned, in [0, 1] |",
        f"| `baseline.method` | | eval | the Transformer or a classical baseline on the same "
        f"prompts: {', '.join(METHODS)} |",
    ]
    return rows


BASELINE_TEXTS = {  # fitted on each test prompt's contexts alone (harness.measure.baselines)
    "transformer": "the trained Transformer itself",
    "logreg": "L2 logistic regression on the prompt's contexts",
    "svm_linear": "a linear SVM on the prompt's contexts",
    "svm_rbf": "an RBF-kernel SVM on the prompt's contexts",
    "knn1": "the nearest context's label",
    "knn3": "the majority label of the 3 nearest contexts",
    "best": "the best classical baseline on each prompt set",
}


def readings_section() -> list[str]:
    """Every named reading a claim file or a regime can choose, with what it means."""
    from harness.claims.regime import load_regimes
    from harness.claims.world_split import WORLD_READINGS
    from harness.measure.baselines import METHODS
    from harness.measure.pruning import PRUNE_RULES
    from harness.run.paths import claims_dir
    from harness.world.config import SAMPLING_READINGS
    from harness.world.mixtures import MIXTURE_FACTORS
    from harness.world.patterns import OOD_READINGS, OOD_RENORMALISE

    rows = ["| reading | value | what it means |", "|---|---|---|"]
    rows += [f"| `data.ood_spread` | `{k}` | {_cell(v)} |" for k, v in OOD_READINGS.items()]
    rows += [
        f"| `data.ood_renormalise` | `{str(k).lower()}` | {_cell(v)} |"
        for k, v in OOD_RENORMALISE.items()
    ]
    rows += [f"| `data.test_sampling` | `{k}` | {_cell(v)} |" for k, v in SAMPLING_READINGS.items()]
    rows += [f"| `prune.mode` | `{k}` | {_cell(v)} |" for k, v in PRUNE_RULES.items()]
    rows += [f"| `baseline.method` | `{k}` | {BASELINE_TEXTS.get(k, k)} |" for k in METHODS]
    rows += [
        f"| `metric.mixture` | `{n}` | {_cell(MIXTURE_FACTORS.get(n).text)} |"
        for n in MIXTURE_FACTORS
    ]
    rows += [f"| `metric.worlds` | `{k}` | {_cell(v)} |" for k, v in WORLD_READINGS.items()]
    rows += [
        f"| `--regime` | `{n}` | {_cell(r.why)} |" for n, r in load_regimes(claims_dir()).items()
    ]
    return rows


__all__ = ["field_meanings", "axes_section", "readings_section"]
