"""GTA5 as a labelled source domain, with the 19 Cityscapes classes.

Expects the layout written by ``tools/convert_datasets/gta5.py``::

    data/gta5/images/00001.png
    data/gta5/labels/00001_labelTrainIds.png   (train ids 0..18, 255 = ignore)
    data/gta5/train.txt                        (optional: every cleanly converted image)
"""
from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS

from .sample_checks import CheckedSamplesMixin


@DATASETS.register_module()
class GTA5Dataset(CheckedSamplesMixin, BaseSegDataset):
    """GTA5 (Richter et al., 2016): 24,966 rendered street scenes, labelled with the
    Cityscapes label ids and converted to the 19 Cityscapes train ids.

    Classes and palette are exactly those of mmseg's ``CityscapesDataset`` so that a
    GTA5-trained model is evaluated on Cityscapes without any class remapping.

    Args:
        img_suffix (str): Image file suffix. Defaults to ``'.png'``.
        seg_map_suffix (str): Label file suffix. Defaults to ``'_labelTrainIds.png'``.
        **kwargs: Passed on to :class:`mmseg.datasets.BaseSegDataset`
            (``data_root``, ``data_prefix=dict(img_path='images',
            seg_map_path='labels')``, ``ann_file``, ``pipeline``, ...).
    """

    METAINFO = dict(
        classes=CityscapesDataset.METAINFO['classes'],
        palette=CityscapesDataset.METAINFO['palette'])

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '_labelTrainIds.png',
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
