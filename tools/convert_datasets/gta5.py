#!/usr/bin/env python
"""Convert the GTA5 labels to the 19 Cityscapes train ids.

Reads the layout as published (Richter et al., "Playing for Data", 2016)::

    GTA5_ROOT/images/00001.png ... 24966.png   RGB frames
    GTA5_ROOT/labels/00001.png ... 24966.png   palette PNGs, palette index = Cityscapes label id

and writes, resumably and in parallel (see ``cpsl_mmseg.datasets.label_conversion``)::

    GTA5_ROOT/labels/00001_labelTrainIds.png   train ids 0..18, 255 = ignore
    GTA5_ROOT/train.txt                        every image that converted (the UDA protocol
                                               trains on all of them)
    GTA5_ROOT/class_stats.json                 pixels per class, per-image class presence
    GTA5_ROOT/conversion_report.json           skipped (unreadable) pairs, resized labels

A few GTA5 labels are not the size of their image; they are resized to the image size
with nearest neighbour and listed in the report. Usage::

    python tools/convert_datasets/gta5.py data/gta5 --nproc 8
"""
import argparse
from typing import List, Optional

import numpy as np
from PIL import Image

from cpsl_mmseg.datasets.gta5 import GTA5Dataset
from cpsl_mmseg.datasets.label_conversion import (find_pairs, run_conversion,
                                                  summary_line, train_id_lut)

#: Cityscapes label id of each train id 0..18 (road ... bicycle); all other ids -> 255.
CITYSCAPES_LABEL_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
                        31, 32, 33)
_LUT = train_id_lut(CITYSCAPES_LABEL_IDS, 256)


def read_gta5_train_ids(path: str) -> np.ndarray:
    """Read a GTA5 label PNG (palette index = Cityscapes label id) as an (H, W) uint8
    map of train ids 0..18 and 255."""
    with Image.open(path) as img:
        if img.mode not in ('P', 'L'):
            raise ValueError(f'{path}: expected a palette (P) PNG of Cityscapes label ids, '
                             f'got mode {img.mode}')
        label_ids = np.asarray(img)
    return _LUT[label_ids]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert GTA5 labels to Cityscapes train ids (resumable).')
    parser.add_argument('root', help='GTA5 root holding images/ and labels/')
    parser.add_argument('--nproc', type=int, default=4, help='worker processes')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the conversion; returns the report written to conversion_report.json."""
    args = parse_args(argv)
    report = run_conversion(
        'GTA5', args.root, find_pairs(args.root, 'images', 'labels'),
        read_gta5_train_ids, GTA5Dataset.METAINFO['classes'], nproc=args.nproc)
    print(summary_line(report))
    return report


if __name__ == '__main__':
    main()
