"""Per-image class pixel counts of a labelled dataset, the statistics rare class
sampling draws from (:mod:`.rare_class_sampling`).

One file format, ``class_stats.json``, written by the GTA5 / SYNTHIA converters
(:mod:`.label_conversion`) and by ``tools/compute_class_stats.py`` for any mmseg
dataset: ``classes``, ``ignore_index``, ``num_images``, ``pixel_counts`` (class ->
pixels), ``ignore_pixels``, ``image_counts`` (class -> images holding it),
``pixel_share`` and ``images`` (sample key -> {train id as str: pixels}, classes present
only). A sample's key is its label file's path relative to the dataset's label
folder, without the label suffix (GTA5: ``00001``; Cityscapes: ``aachen/aachen_...``).
"""
import json
import os.path as osp
from typing import Dict, Sequence, Tuple

import numpy as np
from mmengine.utils import track_progress

STATS_FILE = 'class_stats.json'
IGNORE_INDEX = 255


def statistics_from_counts(keys: Sequence[str], counts: np.ndarray,
                           ignore_counts: Sequence[int], classes: Sequence[str]) -> dict:
    """The ``class_stats.json`` content of N images (module docstring).

    Args:
        keys: the N sample keys.
        counts: (N, C) pixels per image and class.
        ignore_counts: the N images' ignored pixels.
        classes: the C class names, in train-id order.
    """
    counts = np.asarray(counts, dtype=np.int64).reshape(len(keys), len(classes))
    total = counts.sum(0)
    share = total / max(int(total.sum()), 1)
    return dict(
        classes=list(classes),
        ignore_index=IGNORE_INDEX,
        num_images=len(keys),
        pixel_counts={c: int(n) for c, n in zip(classes, total)},
        ignore_pixels=int(sum(ignore_counts)),
        image_counts={c: int(n) for c, n in zip(classes, (counts > 0).sum(0))},
        pixel_share={c: float(s) for c, s in zip(classes, share)},
        images={key: {str(k): int(n) for k, n in enumerate(row) if n > 0}
                for key, row in zip(keys, counts)})


def sample_key(data_info: dict, seg_map_root: str, seg_map_suffix: str) -> str:
    """The key of a sample: its label path relative to ``seg_map_root``, without
    ``seg_map_suffix``, with '/' separators."""
    relative = osp.relpath(data_info['seg_map_path'], seg_map_root).replace(osp.sep, '/')
    return relative[:-len(seg_map_suffix)] if relative.endswith(seg_map_suffix) else relative


def dataset_sample_keys(dataset) -> list:
    """The key of every sample of an mmseg ``BaseSegDataset`` (which must have labels)."""
    root = dataset.data_prefix.get('seg_map_path')
    if not root:
        raise ValueError(f'{type(dataset).__name__} has no data_prefix.seg_map_path: '
                         'class statistics need labels')
    suffix = getattr(dataset, 'seg_map_suffix', '')
    return [sample_key(dataset.get_data_info(i), root, suffix) for i in range(len(dataset))]


def label_class_counts(data_info: dict, num_classes: int) -> Tuple[np.ndarray, int]:
    """(C,) pixels per class and the ignored pixels of one sample's label, loaded as
    the dataset loads it (mmseg's ``LoadAnnotations``: label map, reduce_zero_label)."""
    from mmseg.datasets.transforms import LoadAnnotations
    results = LoadAnnotations()(dict(data_info, seg_fields=[]))
    hist = np.bincount(results['gt_seg_map'].ravel().astype(np.int64),
                       minlength=max(num_classes, IGNORE_INDEX + 1))
    return hist[:num_classes], int(hist[IGNORE_INDEX])


def dataset_class_statistics(dataset) -> dict:
    """``class_stats.json`` content of every sample of ``dataset`` (progress bar)."""
    classes = list(dataset.metainfo['classes'])
    keys = dataset_sample_keys(dataset)
    results = track_progress(
        lambda i: label_class_counts(dataset.get_data_info(i), len(classes)),
        list(range(len(dataset))))
    counts = np.stack([r[0] for r in results]) if results else np.zeros((0, len(classes)))
    return statistics_from_counts(keys, counts, [r[1] for r in results], classes)


def read_class_statistics(path: str, config_key: str) -> Dict[str, dict]:
    """The ``images`` table of a ``class_stats.json`` file.

    Raises:
        FileNotFoundError / ValueError: naming ``config_key`` and the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{config_key}: no class statistics file {path} (write '
                                'one with tools/compute_class_stats.py, or leave the key '
                                'unset to compute them when the dataset is built)')
    with open(path) as f:
        stats = json.load(f)
    if not isinstance(stats, dict) or not isinstance(stats.get('images'), dict):
        raise ValueError(f'{config_key}: {path} has no "images" table of per-image '
                         'class counts (see cpsl_mmseg/datasets/class_stats.py)')
    return stats['images']
