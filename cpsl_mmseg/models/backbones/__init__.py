"""backbones: offline-pretrained backbones for CPU experiments."""
from .efficientnet_lite import EfficientNetLite0

__all__ = ['EfficientNetLite0']
