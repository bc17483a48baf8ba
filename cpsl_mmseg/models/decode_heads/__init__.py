"""decode_heads."""
from .deeplabv2_head import DeepLabV2Head, DeepLabV2SEHead  # noqa: F401
from .self_labeling_head import SelfLabelingHead  # noqa: F401
