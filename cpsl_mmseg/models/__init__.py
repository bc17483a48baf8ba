"""Models: segmentors, decode heads, backbones, losses (registered in mmseg's MODELS)."""
from . import backbones, decode_heads, losses, segmentors, utils  # noqa: F401
from .data_preprocessor import UDADataPreProcessor

__all__ = ['UDADataPreProcessor']
