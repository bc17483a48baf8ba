"""Data loading at the paper's resolution on this CPU: paired samples per second and
peak memory of one data-loading worker (one process doing what a worker does).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_data_loading.py [--samples 20]

Synthetic trees in a temporary folder: GTA5-size source frames (1914x1052 PNG, train-id
labels), Cityscapes-size target frames (2048x1024 PNG) and their P_ST maps (19 x 128 x
256 uint8, stride 8). The pipelines are those of
``configs/_base_/datasets/gta5_to_cityscapes_896x512.py`` (resize to 2048x1024 with a
random scale in 0.5-1.5, 896x512 crops, flip; the target adds P_ST and the strong view).
Variants, each measured in a fresh process:

* ``source``, ``target``, ``paired``: this package (``UDADataset``; P_ST follows the
  crop through a 2-channel source-coordinate map and is sampled at the crop only);
* ``target-reference``, ``paired-reference``: the reference code's approach, P_ST
  upsampled to the full image (19 x H x W float32) before resizing and cropping it with
  the image.

Each prints samples/s (after 2 warm-up samples), the process's RSS before the first
sample and its peak RSS while loading (Linux ``VmHWM``, reset before the first sample):
their difference is what a worker holds for its samples. Writes nothing outside its
temporary folder.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform, to_tensor
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, TRANSFORMS

import cpsl_mmseg  # noqa: F401  (registers the datasets and transforms)
from cpsl_mmseg.datasets.pseudo_label_io import (load_soft_pseudo_label, pseudo_label_path,
                                                 save_soft_pseudo_label)
from cpsl_mmseg.datasets.transforms import PackUDATargetInputs

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATASET_CONFIG = osp.join(REPO, 'configs/_base_/datasets/gta5_to_cityscapes_896x512.py')
VARIANTS = ('source', 'target', 'paired', 'target-reference', 'paired-reference')
FULL_KEY = 'soft_pseudo_label_full'


@TRANSFORMS.register_module()
class UpsampledSoftPseudoLabel(BaseTransform):
    """The reference loader's P_ST: upsampled to the image size (H, W, C) float32 and
    moved through every geometric transform as a segmentation field."""

    def __init__(self, pseudo_label_dir: str, num_classes: int) -> None:
        self.pseudo_label_dir, self.num_classes = pseudo_label_dir, num_classes

    def transform(self, results: dict) -> dict:
        probs = load_soft_pseudo_label(
            pseudo_label_path(self.pseudo_label_dir, results['img_path']), self.num_classes)
        full = F.interpolate(torch.from_numpy(probs)[None], size=results['img'].shape[:2],
                             mode='bilinear', align_corners=False)[0]
        results[FULL_KEY] = np.ascontiguousarray(full.permute(1, 2, 0).numpy())
        results.setdefault('seg_fields', []).append(FULL_KEY)
        return results


@TRANSFORMS.register_module()
class PackUpsampledSoftPseudoLabel(PackUDATargetInputs):
    """``PackUDATargetInputs`` plus the cropped full-resolution P_ST as (C, h, w)."""

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        packed['soft_pseudo_label_full'] = to_tensor(
            np.ascontiguousarray(results[FULL_KEY].transpose(2, 0, 1)))
        return packed


def smooth_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A photo-like frame: upsampled coarse colours plus mild noise (compresses as
    street photographs roughly do, unlike white noise)."""
    coarse = rng.integers(0, 256, (height // 32, width // 32, 3), dtype=np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    noise = rng.integers(-8, 9, image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def write_trees(root: str, images: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(images):
        cv2.imwrite(osp.join(root, 'gta5/images', f'{i:05d}.png'),
                    smooth_image(rng, 1052, 1914))
        labels = rng.integers(0, 19, (1052 // 32 + 1, 1914 // 32 + 1), dtype=np.uint8)
        cv2.imwrite(osp.join(root, 'gta5/labels', f'{i:05d}_labelTrainIds.png'),
                    cv2.resize(labels, (1914, 1052), interpolation=cv2.INTER_NEAREST))
        city = osp.join(root, 'cityscapes/leftImg8bit/train/bench',
                        f'bench_{i:06d}_000019_leftImg8bit.png')
        cv2.imwrite(city, smooth_image(rng, 1024, 2048))
        probs = torch.from_numpy(rng.random((19, 128, 256))).softmax(0)
        save_soft_pseudo_label(pseudo_label_path(osp.join(root, 'pst'), city), probs)
    with open(osp.join(root, 'gta5/train.txt'), 'w') as f:
        f.write(''.join(f'{i:05d}\n' for i in range(images)))


def dataset_cfg(root: str, variant: str) -> dict:
    cfg = Config.fromfile(DATASET_CONFIG)
    source = dict(cfg.source_dataset, data_root=osp.join(root, 'gta5'))
    pipeline = [dict(step) for step in cfg.target_pipeline]
    for step in pipeline:
        if step['type'] == 'LoadSoftPseudoLabel':
            step['pseudo_label_dir'] = osp.join(root, 'pst')
    if variant.endswith('reference'):
        pipeline[1] = dict(pipeline[1], type='UpsampledSoftPseudoLabel')
        pipeline[-1] = dict(type='PackUpsampledSoftPseudoLabel')
    target = dict(cfg.target_dataset, data_root=osp.join(root, 'cityscapes'),
                  pipeline=pipeline)
    if variant == 'source':
        return source
    if variant.startswith('target'):
        return target
    return dict(type='UDADataset', source=source, target=target)


def memory_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this process."""
    with open('/proc/self/status') as f:
        line = next(line for line in f if line.startswith(field + ':'))
    return int(line.split()[1]) / 1024


def measure(root: str, variant: str, samples: int) -> dict:
    """One worker's throughput and memory for ``variant`` (run in a fresh process)."""
    init_default_scope('mmseg')
    dataset = DATASETS.build(dataset_cfg(root, variant))
    rss_before = memory_mb('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets the peak (VmHWM) to the current RSS
    for i in range(2):
        dataset[i % len(dataset)]
    start = time.perf_counter()
    for i in range(samples):
        dataset[i % len(dataset)]
    elapsed = time.perf_counter() - start
    return dict(variant=variant, samples=samples, samples_per_s=samples / elapsed,
                rss_before_mb=rss_before, peak_rss_mb=memory_mb('VmHWM'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=20)
    parser.add_argument('--images', type=int, default=8, help='images per domain')
    parser.add_argument('--measure', nargs=2, metavar=('ROOT', 'VARIANT'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.measure:
        print(json.dumps(measure(*args.measure, args.samples)))
        return
    with tempfile.TemporaryDirectory() as root:
        for folder in ('gta5/images', 'gta5/labels', 'cityscapes/leftImg8bit/train/bench'):
            os.makedirs(osp.join(root, folder))
        write_trees(root, args.images)
        print(f'{args.samples} samples per variant, 1 process, torch threads 1')
        print('| variant | samples/s | RSS before (MB) | peak RSS (MB) | held while loading (MB) |')
        print('|---|---|---|---|---|')
        for variant in VARIANTS:
            out = subprocess.run(
                [sys.executable, __file__, '--samples', str(args.samples), '--measure',
                 root, variant], capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {variant} | {row['samples_per_s']:.2f} | {row['rss_before_mb']:.0f} "
                  f"| {row['peak_rss_mb']:.0f} | "
                  f"{row['peak_rss_mb'] - row['rss_before_mb']:.0f} |", flush=True)


if __name__ == '__main__':
    main()
