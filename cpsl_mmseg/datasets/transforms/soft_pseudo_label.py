"""Loading soft pseudo labels P_ST so that they follow every geometric transform.

P_ST is stored at the network's output stride (see ``pseudo_label_io``), far smaller
than the image. Instead of upsampling it to the image size and pushing C channels
through the pipeline (the reference code's 159 MB per Cityscapes sample), the loader
adds a 2-channel *source-coordinate map* to ``seg_fields``: pixel (i, j) of the
loaded image holds its own normalised coordinates ((j + 0.5) / W, (i + 0.5) / H).
Every mmseg geometric transform (resize, crop, flip, rotate, ...) moves seg fields
exactly as it moves ``gt_seg_map`` (nearest interpolation, ``seg_pad_val`` padding),
so after the pipeline each output pixel knows where in the original image it came
from. :func:`sample_soft_pseudo_label` then reads P_ST there by bilinear sampling;
pixels that came from padding (coordinates outside [0, 1]) get an all-zero
probability vector, which the rectification treats as ignore.
"""
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..pseudo_label_io import load_soft_pseudo_label, pseudo_label_path

COORD_KEY = 'pst_source_coords'
SOFT_LABEL_KEY = 'soft_pseudo_label'


def source_coordinate_map(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32 map of each pixel's normalised (x, y) centre coordinates."""
    ys = (np.arange(height, dtype=np.float32) + 0.5) / height
    xs = (np.arange(width, dtype=np.float32) + 0.5) / width
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.stack([grid_x, grid_y], axis=-1)


def sample_soft_pseudo_label(soft_label: np.ndarray,
                             coords: np.ndarray) -> torch.Tensor:
    """Read P_ST at transformed source coordinates.

    Args:
        soft_label: (C, h, w) float probabilities at any stride.
        coords: (H', W', 2) normalised (x, y) source coordinates after the pipeline;
            values outside [0, 1] mark padded pixels.

    Returns:
        (C, H', W') float32 tensor; padded pixels are all-zero.
    """
    source = torch.from_numpy(np.ascontiguousarray(soft_label)).float()[None]
    grid = torch.from_numpy(np.ascontiguousarray(coords)).float()
    valid = ((grid >= 0) & (grid <= 1)).all(dim=-1)
    sampled = F.grid_sample(
        source, (grid * 2 - 1)[None], mode='bilinear', padding_mode='border',
        align_corners=False)[0]
    return sampled * valid[None].float()


def check_stride(path: str, map_size: Tuple[int, int], image_size: Tuple[int, int],
                 img_path: str, tolerance: float = 0.1) -> None:
    """A P_ST map must cover its image at one output stride in both directions (a map
    written for other images, or another input size, would be misaligned silently).

    Raises:
        ValueError: naming the map file, its size and the image's.
    """
    (h, w), (height, width) = map_size, image_size
    stride_y, stride_x = height / h, width / w
    if h > height or w > width or abs(stride_y - stride_x) > tolerance * max(
            stride_y, stride_x):
        raise ValueError(
            f'soft pseudo label {path}: {h}x{w} does not cover its image {img_path} '
            f'({height}x{width}) at one output stride (strides {stride_y:.2f} / '
            f'{stride_x:.2f}); regenerate the maps for these images')


@TRANSFORMS.register_module()
class LoadSoftPseudoLabel(BaseTransform):
    """Attach the stored soft pseudo label P_ST of a target image.

    Place it right after ``LoadImageFromFile`` (before any geometric transform).

    Required keys: ``img``, ``img_path``. Added keys: ``soft_pseudo_label``
    ((C, h, w) float32), ``pst_source_coords`` (in ``seg_fields``).

    Args:
        pseudo_label_dir: directory written by ``tools/generate_pseudo_labels.py``.
        num_classes: expected C; a file with another C is an error naming it.
    """

    def __init__(self, pseudo_label_dir: str,
                 num_classes: Optional[int] = None) -> None:
        self.pseudo_label_dir = pseudo_label_dir
        self.num_classes = num_classes

    def transform(self, results: dict) -> dict:
        path = pseudo_label_path(self.pseudo_label_dir, results['img_path'])
        results[SOFT_LABEL_KEY] = load_soft_pseudo_label(
            path, self.num_classes)
        height, width = results['img'].shape[:2]
        check_stride(path, results[SOFT_LABEL_KEY].shape[-2:], (height, width),
                     results['img_path'])
        results[COORD_KEY] = source_coordinate_map(height, width)
        results.setdefault('seg_fields', []).append(COORD_KEY)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(pseudo_label_dir='
                f'{self.pseudo_label_dir!r}, num_classes={self.num_classes})')
