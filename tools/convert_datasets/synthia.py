#!/usr/bin/env python
"""Convert the SYNTHIA-RAND-CITYSCAPES labels to the 16 SYNTHIA->Cityscapes train ids.

Reads the layout as published (Ros et al., 2016)::

    SYNTHIA_ROOT/RGB/0000000.png ... 0009399.png        RGB frames
    SYNTHIA_ROOT/GT/LABELS/0000000.png ...              16-bit multi-channel PNGs; the
                                                        first channel (R) is the class id

and writes, resumably and in parallel (see ``cpsl_mmseg.datasets.label_conversion``)::

    SYNTHIA_ROOT/GT/LABELS/0000000_labelTrainIds.png   train ids 0..15, 255 = ignore
    SYNTHIA_ROOT/train.txt                             every image that converted
    SYNTHIA_ROOT/class_stats.json                      pixels per class, per-image presence
    SYNTHIA_ROOT/conversion_report.json                skipped pairs, resized labels

PIL cannot decode these 16-bit label files; OpenCV reads them with IMREAD_UNCHANGED in
BGR order, so the class id is channel index 2 (the last of B, G, R). Usage::

    python tools/convert_datasets/synthia.py data/synthia --nproc 8
"""
import argparse
from typing import List, Optional

import cv2
import numpy as np

from cpsl_mmseg.datasets.label_conversion import (find_pairs, run_conversion,
                                                  summary_line, train_id_lut)
from cpsl_mmseg.datasets.synthia import SynthiaDataset

#: SYNTHIA class id of each train id 0..15 (road, sidewalk, building, wall, fence, pole,
#: traffic light, traffic sign, vegetation, sky, person, rider, car, bus, motorcycle,
#: bicycle); all other ids -> 255.
SYNTHIA_LABEL_IDS = (3, 4, 2, 21, 5, 7, 15, 9, 6, 1, 10, 17, 8, 19, 12, 11)
_LUT = train_id_lut(SYNTHIA_LABEL_IDS, 2 ** 16)
_RED = 2  # index of the file's first (R) channel in OpenCV's BGR / BGRA order


def read_synthia_train_ids(path: str) -> np.ndarray:
    """Read a SYNTHIA GT/LABELS PNG as an (H, W) uint8 map of train ids 0..15 and 255."""
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ValueError(f'{path}: OpenCV cannot decode it')
    if label.dtype not in (np.uint8, np.uint16):
        raise ValueError(f'{path}: expected an 8- or 16-bit PNG, got {label.dtype}')
    if label.ndim == 3 and label.shape[2] in (3, 4):
        class_ids = label[:, :, _RED]
    elif label.ndim == 2:
        class_ids = label
    else:
        raise ValueError(f'{path}: expected 1, 3 or 4 channels, got shape {label.shape}')
    return _LUT[class_ids]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert SYNTHIA-RAND-CITYSCAPES labels to 16 train ids (resumable).')
    parser.add_argument('root', help='SYNTHIA-RAND-CITYSCAPES root holding RGB/ and GT/LABELS/')
    parser.add_argument('--nproc', type=int, default=4, help='worker processes')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the conversion; returns the report written to conversion_report.json."""
    args = parse_args(argv)
    report = run_conversion(
        'SYNTHIA', args.root, find_pairs(args.root, 'RGB', 'GT/LABELS'),
        read_synthia_train_ids, SynthiaDataset.METAINFO['classes'], nproc=args.nproc)
    print(summary_line(report))
    return report


if __name__ == '__main__':
    main()
