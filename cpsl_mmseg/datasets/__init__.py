"""Datasets and transforms (registered in mmseg's DATASETS and TRANSFORMS)."""
from . import transforms  # noqa: F401
from .uda_dataset import UDADataset

__all__ = ['UDADataset']
