"""Rare class sampling (RCS, DAFormer, Hoyer et al. CVPR 2022): source images drawn by
the rarity of a class they contain.

DAFormer (``uda_dataset.py``): with f_c the share of class c among the labelled
source pixels, a class is drawn with probability ``P(c) = softmax_c((1 - f_c) / T)``
over the classes that have pixels (T = 0.01: nearly only the rarest classes), then an
image uniformly among those holding more than ``min_pixels`` pixels of c (3000,
counted on the full label), and the crop the source pipeline makes of it is re-drawn,
up to 10 times, until it holds more than ``min_pixels * min_crop_ratio`` pixels of c
(0.5: 1500); the last crop is kept either way.

Here a class that no image holds ``min_pixels`` of is left out and P renormalised
over the others (DAFormer stops on an assertion), f_c is counted over the dataset's
own samples, and the statistics come from a ``class_stats.json`` (``stats_file``) or
are computed when the dataset is built (:mod:`.class_stats`).
"""
import os.path as osp
import time
from typing import Optional, Tuple

import numpy as np
from mmengine.logging import print_log

from .class_stats import dataset_class_statistics, dataset_sample_keys, read_class_statistics


def rare_class_probabilities(pixel_counts: np.ndarray, temperature: float) -> np.ndarray:
    """(C,) ``softmax((1 - f) / T)`` over the classes with pixels, 0 for the others;
    f = ``pixel_counts / pixel_counts.sum()``."""
    counts = np.asarray(pixel_counts, dtype=np.float64)
    present = counts > 0
    logits = (1 - counts / counts.sum()) / temperature
    logits = np.where(present, logits - logits[present].max(), -np.inf)
    probs = np.exp(logits)
    return probs / probs.sum()


class RareClassSampler:
    """Draws source samples by RCS (module docstring) from a built mmseg dataset.

    Args:
        dataset: the source dataset (full-initialised, labelled).
        class_temp: T (DAFormer: 0.01).
        min_pixels: pixels of the drawn class an image must hold (DAFormer: 3000, on
            GTA5's 1914x1052 labels).
        min_crop_ratio: share of ``min_pixels`` the crop must keep (DAFormer: 0.5).
        crop_retries: re-drawn crops at most (DAFormer: 10).
        stats_file: ``class_stats.json``, relative paths taken in the dataset's
            ``data_root``; None = computed now.
        config_key: named in errors.
    """

    def __init__(self, dataset, class_temp: float = 0.01, min_pixels: int = 3000,
                 min_crop_ratio: float = 0.5, crop_retries: int = 10,
                 stats_file: Optional[str] = None,
                 config_key: str = 'train_dataloader.dataset.rare_class_sampling') -> None:
        if class_temp <= 0 or min_pixels < 0 or min_crop_ratio < 0 or crop_retries < 0:
            raise ValueError(f'{config_key}: class_temp must be > 0 and min_pixels, '
                             f'min_crop_ratio, crop_retries >= 0, got {class_temp}, '
                             f'{min_pixels}, {min_crop_ratio}, {crop_retries}')
        if callable(getattr(dataset, 'full_init', None)):
            dataset.full_init()  # a lazily built dataset lists its samples now
        self.dataset = dataset
        self.min_crop_pixels = min_pixels * min_crop_ratio
        self.crop_retries = crop_retries
        counts = self.image_class_counts(stats_file, config_key)  # (N, C)
        eligible = counts > min_pixels
        probs = rare_class_probabilities(counts.sum(0), class_temp)
        classes = dataset.metainfo['classes']
        dropped = [classes[c] for c in np.flatnonzero((probs > 0) & ~eligible.any(0))]
        if dropped:
            print_log(f'{config_key}: no source image holds more than {min_pixels} pixels '
                      f'of {dropped}; rare class sampling leaves them out',
                      logger='current', level=30)
            probs = np.where(eligible.any(0), probs, 0.0)
        if probs.sum() <= 0:
            raise ValueError(f'{config_key}: no class has an image with more than '
                             f'{min_pixels} of its pixels: lower min_pixels')
        self.class_probs = probs / probs.sum()
        self.images_with_class = [np.flatnonzero(eligible[:, c]) for c in range(len(probs))]
        print_log('rare class sampling: P(class) = ' + ', '.join(
            f'{classes[c]} {p:.3f}' for c, p in enumerate(self.class_probs) if p > 0),
            logger='current')

    def image_class_counts(self, stats_file: Optional[str], config_key: str) -> np.ndarray:
        """(N, C) pixels per class of every sample, from ``stats_file`` or computed."""
        keys = dataset_sample_keys(self.dataset)
        num_classes = len(self.dataset.metainfo['classes'])
        if stats_file is None:
            start = time.time()
            stats = dataset_class_statistics(self.dataset)['images']
            print_log(f'rare class sampling: class statistics of {len(keys)} source '
                      f'images computed in {time.time() - start:.1f} s (write them once '
                      'with tools/compute_class_stats.py and set stats_file to skip this)',
                      logger='current')
        else:
            root = getattr(self.dataset, 'data_root', None) or ''
            if not osp.isabs(stats_file) and not osp.isfile(stats_file):
                stats_file = osp.join(root, stats_file)
            stats = read_class_statistics(stats_file, f'{config_key}.stats_file')
            missing = [key for key in keys if key not in stats]
            if missing:
                raise ValueError(f'{config_key}.stats_file: {stats_file} has no counts for '
                                 f'{len(missing)} source images, e.g. {missing[:3]}: '
                                 'recompute it for this dataset')
        counts = np.zeros((len(keys), num_classes), dtype=np.int64)
        for row, key in enumerate(keys):
            for class_id, pixels in stats[key].items():
                if int(class_id) < num_classes:
                    counts[row, int(class_id)] = pixels
        return counts

    def draw(self, rng: np.random.Generator) -> Tuple[int, int]:
        """(class, dataset index): a class by P, then one of its eligible images."""
        class_id = int(rng.choice(len(self.class_probs), p=self.class_probs))
        return class_id, int(rng.choice(self.images_with_class[class_id]))

    def sample(self, rng: np.random.Generator) -> dict:
        """A packed source sample whose crop was re-drawn until it holds enough
        pixels of the drawn class (or ``crop_retries`` times)."""
        class_id, index = self.draw(rng)
        sample = self.dataset[index]
        for _ in range(self.crop_retries):
            pixels = int((sample['data_samples'].gt_sem_seg.data == class_id).sum())
            if pixels > self.min_crop_pixels:
                break
            sample = self.dataset[index]
        return sample
