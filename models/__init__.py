"""Networks only: the paper's one-layer Transformer (ensemble and literal reference)."""

from .icl_transformer import EnsembleICLTransformer
from .reference import ReferenceICLTransformer, hinge_loss

__all__ = ["EnsembleICLTransformer", "ReferenceICLTransformer", "hinge_loss"]
