"""Networks only: the paper's one-layer Transformer (ensemble and literal reference) and a
multi-layer GPT-2-style Transformer on the same prompts (ensemble)."""

from .deep_transformer import EnsembleDeepTransformer
from .icl_transformer import EnsembleICLTransformer
from .reference import ReferenceICLTransformer, hinge_loss

__all__ = [
    "EnsembleDeepTransformer",
    "EnsembleICLTransformer",
    "ReferenceICLTransformer",
    "hinge_loss",
]
