"""Datasets and transforms (registered in mmseg's DATASETS and TRANSFORMS)."""
from . import transforms  # noqa: F401
from .cityscapes16 import Cityscapes16Dataset  # noqa: F401
from .folder import FolderSegDataset  # noqa: F401
from .gta5 import GTA5Dataset  # noqa: F401
from .synthia import SynthiaDataset  # noqa: F401
from .target_stream import full_image_dataset
from .uda_dataset import UDADataset

__all__ = ['UDADataset', 'full_image_dataset']
