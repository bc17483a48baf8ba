"""Your own images as an mmseg dataset: a folder of images and, optionally, a folder of
label maps with the same names (``docs/your_data.md``).

mmseg's ``BaseSegDataset`` lists such folders by config alone; ``FolderSegDataset``
adds what a new dataset needs checked before the first iteration, each error naming
the file or config key: the classes are given, every listed image has its label file,
every sample's label ids and size fit (:mod:`.sample_checks`).
"""
import os.path as osp
from typing import List, Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .sample_checks import CheckedSamplesMixin


@DATASETS.register_module()
class FolderSegDataset(CheckedSamplesMixin, BaseSegDataset):
    """Images under ``data_root/data_prefix.img_path`` (searched recursively, by
    ``img_suffix``); with ``data_prefix.seg_map_path``, the label map of ``NAME +
    img_suffix`` is ``NAME + seg_map_suffix`` there (class ids 0..C-1, 255 = ignore)::

        dict(type='FolderSegDataset', data_root='data/renders',
             data_prefix=dict(img_path='img', seg_map_path='gt'),
             img_suffix='.jpg', seg_map_suffix='_label.png',
             metainfo=dict(classes=['road', 'car', 'sky'],
                           palette=[[128, 64, 128], [0, 0, 142], [70, 130, 180]]))

    An unlabelled folder (a target domain's training images) has no
    ``seg_map_path``. ``metainfo.classes`` (and optionally ``palette``) name the
    classes in label-id order; a missing palette is made up by mmseg.

    Raises:
        ValueError: without ``metainfo.classes``, naming the folder.
        FileNotFoundError: naming the first image without its label file.
    """

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 data_prefix: Optional[dict] = None, metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        data_prefix = dict(img_path='') if data_prefix is None else data_prefix
        if not (metainfo or {}).get('classes'):
            raise ValueError(
                f'FolderSegDataset at data_root={kwargs.get("data_root")!r}, '
                f'data_prefix={data_prefix}: metainfo.classes is missing (the class '
                'names in label-id order, e.g. metainfo=dict(classes=[...], '
                'palette=[...]))')
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         data_prefix=data_prefix, metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        for info in data_list:
            label = info.get('seg_map_path')
            if label is not None and not osp.isfile(label):
                raise FileNotFoundError(
                    f'{info["img_path"]} has no label file {label} (labels are '
                    f'data_prefix.seg_map_path + the image name with seg_map_suffix '
                    f'{self.seg_map_suffix!r} in place of img_suffix {self.img_suffix!r})')
        return data_list
