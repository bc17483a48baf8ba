"""Rasterising a scene: the pinhole camera, filled primitives as pixel masks, and the
label map of a list of painted parts."""
import math
from dataclasses import dataclass
from typing import Sequence, Tuple

import cv2
import numpy as np

from .settings import CLASSES, IGNORE_INDEX


@dataclass
class Shape:
    """One painted part of a scene, in painting (back-to-front) order.

    Args:
        part: appearance key, e.g. ``'car_body'``; several parts share a class.
        label: class id, or :data:`IGNORE_INDEX` for unlabelled objects.
        mask: (H, W) bool pixels covered by the part.
    """

    part: str
    label: int
    mask: np.ndarray


class Canvas:
    """Pixel grid, camera and rasterisation helpers of one scene."""

    def __init__(self, height: int, width: int, horizon: float, vanish_x: float):
        self.h, self.w = height, width
        self.horizon, self.vanish_x = horizon, vanish_x
        self.focal = float(width)
        self.rows = np.arange(height, dtype=np.float64)[:, None] + 0.5  # (H, 1)
        self.cols = np.arange(width, dtype=np.float64)[None, :] + 0.5   # (1, W)

    def project(self, x: float, y: float, z: float) -> Tuple[float, float]:
        """Image (col, row) of the 3D point at lateral x, height y, depth z."""
        s = self.focal / z
        return self.vanish_x + s * x, self.horizon + s * (1.0 - y)

    def polygon(self, points: Sequence[Tuple[float, float]]) -> np.ndarray:
        """(H, W) mask of a filled polygon given in (col, row) pixel coordinates."""
        canvas = np.zeros((self.h, self.w), np.uint8)
        pts = np.round(np.asarray(points, np.float64) * 16).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=4)
        return canvas.astype(bool)

    def box3d(self, x0: float, x1: float, y0: float, y1: float, z: float) -> np.ndarray:
        """Mask of an upright rectangle facing the camera at depth z."""
        (c0, r1), (c1, r0) = self.project(x0, y0, z), self.project(x1, y1, z)
        return self.polygon([(c0, r0), (c1, r0), (c1, r1), (c0, r1)])

    def side3d(self, x: float, y0: float, y1: float, z0: float, z1: float) -> np.ndarray:
        """Mask of a vertical quad in the plane X = x spanning depths z0..z1."""
        pts = [self.project(x, y0, z0), self.project(x, y1, z0),
               self.project(x, y1, z1), self.project(x, y0, z1)]
        return self.polygon(pts)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
        """Mask of an axis-aligned ellipse; at least its centre pixel when inside."""
        rx, ry = max(rx, 0.5), max(ry, 0.5)
        mask = ((self.cols - cx) / rx) ** 2 + ((self.rows - cy) / ry) ** 2 <= 1.0
        ci, ri = int(math.floor(cx)), int(math.floor(cy))
        if not mask.any() and 0 <= ci < self.w and 0 <= ri < self.h:
            mask[ri, ci] = True
        return mask


def rasterize_labels(shapes: Sequence[Shape], height: int, width: int) -> np.ndarray:
    """(H, W) uint8 label map: the class of the last shape covering each pixel."""
    label = np.full((height, width), IGNORE_INDEX, np.uint8)
    for shape in shapes:
        label[shape.mask] = shape.label
    return label


def class_pixel_counts(label: np.ndarray) -> np.ndarray:
    """(C,) int64 pixel count per class of a label map (ignored pixels excluded)."""
    valid = label[label != IGNORE_INDEX]
    return np.bincount(valid.ravel(), minlength=len(CLASSES)).astype(np.int64)
