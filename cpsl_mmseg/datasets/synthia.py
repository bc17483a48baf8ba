"""SYNTHIA-RAND-CITYSCAPES as a labelled source domain, with 16 classes.

Expects the layout written by ``tools/convert_datasets/synthia.py``::

    data/synthia/RGB/0000000.png
    data/synthia/GT/LABELS/0000000_labelTrainIds.png  (train ids 0..15, 255 = ignore)
    data/synthia/train.txt                            (optional: every cleanly converted image)
"""
from typing import List, Sequence

from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS

from .sample_checks import CheckedSamplesMixin

#: The 16 classes SYNTHIA shares with Cityscapes, in train-id order 0..15
#: (Cityscapes' 19 without terrain, truck and train).
SYNTHIA_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
                   'traffic light', 'traffic sign', 'vegetation', 'sky',
                   'person', 'rider', 'car', 'bus', 'motorcycle', 'bicycle')


def _cityscapes_palette(classes: Sequence[str]) -> List[List[int]]:
    """Cityscapes colour of each named class, so that visualisations match."""
    meta = CityscapesDataset.METAINFO
    colour = dict(zip(meta['classes'], meta['palette']))
    return [colour[name] for name in classes]


@DATASETS.register_module()
class SynthiaDataset(CheckedSamplesMixin, BaseSegDataset):
    """SYNTHIA-RAND-CITYSCAPES (Ros et al., 2016): 9,400 rendered images with
    Cityscapes-compatible labels, converted to 16 train ids (the SYNTHIA->Cityscapes
    protocol reports mIoU over these 16 classes and over 13 of them).

    Args:
        img_suffix (str): Image file suffix. Defaults to ``'.png'``.
        seg_map_suffix (str): Label file suffix. Defaults to ``'_labelTrainIds.png'``.
        **kwargs: Passed on to :class:`mmseg.datasets.BaseSegDataset`
            (``data_root``, ``data_prefix=dict(img_path='RGB',
            seg_map_path='GT/LABELS')``, ``ann_file``, ``pipeline``, ...).
    """

    METAINFO = dict(
        classes=SYNTHIA_CLASSES, palette=_cityscapes_palette(SYNTHIA_CLASSES))

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '_labelTrainIds.png',
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
