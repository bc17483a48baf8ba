"""Models: segmentors, decode heads, losses (registered in mmseg's MODELS)."""
from . import backbones, decode_heads, losses, segmentors, utils  # noqa: F401
