"""A tiny generated segmentation dataset (squares and discs) for tool smoke tests.

Layout written by :func:`write_smoke_dataset` (what ``configs/_base_/datasets/
smoke_shapes.py`` reads)::

    ROOT/images/{train,val}/NAME.png   uint8 BGR images
    ROOT/labels/{train,val}/NAME.png   uint8 class ids (0 background, 1 square, 2 disc)
"""
import os.path as osp
from pathlib import Path

import cv2
import numpy as np

SMOKE_CLASSES = ('background', 'square', 'disc')


# Per domain: background intensity range and (square, disc) BGR colours. The
# 'target' domain is a shifted appearance of the same classes (a toy domain gap).
DOMAIN_STYLES = {
    'source': ((0, 60), (40, 40, 220), (220, 60, 40)),
    'target': ((60, 140), (90, 120, 200), (200, 140, 90)),
}


def render_shapes(rng: np.random.Generator, size: int,
                  domain: str = 'source') -> tuple:
    """Render one image (size, size, 3) uint8 and its (size, size) uint8 label map."""
    (low, high), square_colour, disc_colour = DOMAIN_STYLES[domain]
    image = rng.integers(low, high, (size, size, 3), dtype=np.uint8)
    label = np.zeros((size, size), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(rng.integers(1, 4)):
        r = int(rng.integers(size // 10, size // 4))
        cy, cx = (int(v) for v in rng.integers(r, size - r, 2))
        if rng.random() < 0.5:
            mask = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
            label[mask], colour = 1, square_colour
        else:
            mask = (yy - cy)**2 + (xx - cx)**2 <= r * r
            label[mask], colour = 2, disc_colour
        image[mask] = np.clip(
            np.array(colour) + rng.integers(-30, 30, (int(mask.sum()), 3)), 0,
            255).astype(np.uint8)
    return image, label


def write_smoke_dataset(root: str,
                        num_train: int = 8,
                        num_val: int = 4,
                        size: int = 64,
                        seed: int = 0,
                        domain: str = 'source') -> str:
    """Write the smoke dataset under ``root`` (deterministic for ``seed``); returns
    root. ``domain`` picks the appearance (see :data:`DOMAIN_STYLES`)."""
    if domain not in DOMAIN_STYLES:
        raise ValueError(f'domain must be one of {sorted(DOMAIN_STYLES)}, '
                         f'got {domain!r}')
    rng = np.random.default_rng(seed)
    for split, count in (('train', num_train), ('val', num_val)):
        img_dir = Path(root, 'images', split)
        lbl_dir = Path(root, 'labels', split)
        img_dir.mkdir(parents=True, exist_ok=True)
        lbl_dir.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image, label = render_shapes(rng, size, domain)
            name = f'{split}_{i:04d}.png'
            cv2.imwrite(osp.join(img_dir, name), image)
            cv2.imwrite(osp.join(lbl_dir, name), label)
    return root
