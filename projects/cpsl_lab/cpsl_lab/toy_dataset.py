"""The offline toy UDA domains as an mmseg dataset (``ToyUDADataset``).

Tree (written by ``projects/cpsl_lab/tools/prepare_toy_data.py``)::

    ROOT/meta.json                                  classes, palette, settings, counts
    ROOT/{source,target}/images/{train,val}/NAME.png   RGB
    ROOT/{source,target}/labels/{train,val}/NAME.png   uint8 class ids, 255 = ignore

Target labels are on disk for evaluation only: a UDA config gives the target train
split no ``seg_map_path`` use (no ``LoadAnnotations``).
"""
from pathlib import Path
from typing import Optional

from cpsl_mmseg.datasets.sample_checks import CheckedSamplesMixin
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .toy_world import CLASSES, PALETTE, read_toy_meta


@DATASETS.register_module()
class ToyUDADataset(CheckedSamplesMixin, BaseSegDataset):
    """One split of one toy domain, e.g. the target val split::

        dict(type='ToyUDADataset', data_root='data/toy',
             data_prefix=dict(img_path='target/images/val',
                              seg_map_path='target/labels/val'),
             pipeline=[...])

    Classes and palette are the module constants that ``meta.json`` also records; when
    ``data_root`` holds a ``meta.json`` it is checked against them. Every sample is
    checked while loading (label ids, label size; ``cpsl_mmseg.datasets.sample_checks``).
    """

    METAINFO = dict(classes=CLASSES, palette=[list(c) for c in PALETTE])

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False, data_root: Optional[str] = None,
                 **kwargs) -> None:
        if data_root is not None and (Path(data_root) / 'meta.json').is_file():
            read_toy_meta(data_root)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, data_root=data_root,
                         **kwargs)
