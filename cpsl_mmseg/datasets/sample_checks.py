"""Cheap per-sample checks while loading, each error naming the file at fault.

A label with a class id the model does not have fails deep in the loss
(``IndexError: Target 12 is out of bounds``), a label of another aspect than its image
fails in the collate, and one of the same aspect but another size is silently
rescaled; none names the file. :func:`check_sample` runs on every packed sample of
``UDADataset`` (both streams) and of this package's datasets (``CheckedSamplesMixin``).
(Stored P_ST is checked against its image where it is loaded, ``LoadSoftPseudoLabel``.)
"""
from typing import Optional, Sequence

import torch
from PIL import Image

IGNORE_INDEX = 255


def check_label_file_size(sample: dict) -> None:
    """The label file has the size of its image (read from the file header only).

    Raises:
        ValueError: naming the label file and both sizes.
    """
    meta = sample['data_samples'].metainfo
    path = meta.get('seg_map_path')
    if not path or 'ori_shape' not in meta or 'gt_sem_seg' not in sample['data_samples']:
        return
    with Image.open(path) as label:
        width, height = label.size
    if (height, width) != tuple(meta['ori_shape'][:2]):
        raise ValueError(
            f'{path}: label of {width}x{height} pixels, but its image {meta["img_path"]} '
            f'has {meta["ori_shape"][1]}x{meta["ori_shape"][0]}')


def check_label_ids(sample: dict, num_classes: int) -> None:
    """Every label id lies in ``0..num_classes-1`` or is ``IGNORE_INDEX``.

    Raises:
        ValueError: naming the label file and the offending ids.
    """
    data_sample = sample['data_samples']
    if 'gt_sem_seg' not in data_sample:
        return
    labels = data_sample.gt_sem_seg.data
    bad = (labels >= num_classes) & (labels != IGNORE_INDEX) | (labels < 0)
    if bool(bad.any()):
        ids = torch.unique(labels[bad]).tolist()
        raise ValueError(
            f'{data_sample.metainfo.get("seg_map_path")}: class ids {ids} outside '
            f'0..{num_classes - 1} ({IGNORE_INDEX} = ignore) for a dataset of '
            f'{num_classes} classes')


def check_sample(sample: dict, classes: Optional[Sequence[str]]) -> dict:
    """All checks of this module on one packed sample; returns the sample."""
    check_label_file_size(sample)
    if classes is not None:
        check_label_ids(sample, len(classes))
    return sample


class CheckedSamplesMixin:
    """For an mmengine dataset class: :func:`check_sample` on every prepared sample
    (``test_mode`` samples included: a wrong label spoils an evaluation too)."""

    def prepare_data(self, idx: int):
        sample = super().prepare_data(idx)
        if isinstance(sample, dict) and 'data_samples' in sample:
            check_sample(sample, self.metainfo.get('classes'))
        return sample
