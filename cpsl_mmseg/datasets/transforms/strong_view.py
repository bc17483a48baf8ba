"""The strong view of a target crop (paper Sec. 3.4 / 4.1: RandAugment, Cutout,
colour jitter, random blur).

The strong view is *geometry-free*: it changes pixel values only, so the weak view,
the strong view, P_ST and the teacher's outputs stay aligned pixel for pixel with no
replay of geometric ops (the reference code's rotate/shear/translate would need their
inverse applied to the teacher outputs; here the geometric part of augmentation lives
in the shared pipeline before this transform).
"""
from typing import Callable, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

STRONG_IMG_KEY = 'img_strong'


def _blend(img: np.ndarray, other: np.ndarray, factor: float) -> np.ndarray:
    out = other.astype(np.float32) + factor * (
        img.astype(np.float32) - other.astype(np.float32))
    return np.clip(out, 0, 255).astype(np.uint8)


def _gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY),
                        cv2.COLOR_GRAY2BGR)


def _brightness(img, m, rng):
    return _blend(img, np.zeros_like(img), 1 + rng.uniform(-m, m))


def _contrast(img, m, rng):
    mean = np.full_like(img, int(_gray(img).mean()))
    return _blend(img, mean, 1 + rng.uniform(-m, m))


def _color(img, m, rng):
    return _blend(img, _gray(img), 1 + rng.uniform(-m, m))


def _sharpness(img, m, rng):
    return _blend(img, cv2.GaussianBlur(img, (3, 3), 0), 1 + rng.uniform(-m, m))


def _posterize(img, m, rng):
    bits = int(round(8 - 4 * m * rng.uniform(0.5, 1.0)))
    mask = np.uint8((0xFF << (8 - max(bits, 1))) & 0xFF)
    return img & mask


def _solarize(img, m, rng):
    threshold = int(255 - 128 * m * rng.uniform(0.5, 1.0))
    return np.where(img >= threshold, 255 - img, img).astype(np.uint8)


def _equalize(img, m, rng):
    return np.stack([cv2.equalizeHist(img[..., c]) for c in range(3)], -1)


def _autocontrast(img, m, rng):
    lo = img.reshape(-1, 3).min(0).astype(np.float32)
    hi = img.reshape(-1, 3).max(0).astype(np.float32)
    scale = 255.0 / np.maximum(hi - lo, 1.0)
    return np.clip((img - lo) * scale, 0, 255).astype(np.uint8)


PHOTOMETRIC_OPS: Dict[str, Callable] = {
    'brightness': _brightness,
    'contrast': _contrast,
    'color': _color,
    'sharpness': _sharpness,
    'posterize': _posterize,
    'solarize': _solarize,
    'equalize': _equalize,
    'autocontrast': _autocontrast,
}


@TRANSFORMS.register_module()
class StrongPhotometricView(BaseTransform):
    """Add ``img_strong``: a photometrically strong-augmented copy of ``img``.

    Steps: ``num_ops`` RandAugment-style photometric ops (random choice from
    ``ops``), colour jitter in HSV, Gaussian blur with probability ``blur_prob``,
    then ``cutout_holes`` Cutout boxes filled with ``cutout_fill`` with probability
    ``cutout_prob``. ``img`` itself (the weak view) is left unchanged.

    Args:
        num_ops: RandAugment ops applied per image.
        magnitude: op strength in [0, 1].
        ops: names from :data:`PHOTOMETRIC_OPS`.
        jitter: max relative change of (brightness, saturation) and hue in degrees.
        blur_prob: probability of a Gaussian blur, sigma in ``blur_sigma``.
        cutout_prob: probability of applying Cutout.
        cutout_holes: number of boxes.
        cutout_ratio: box side as a fraction of the image side (min, max).
    """

    def __init__(self,
                 num_ops: int = 2,
                 magnitude: float = 0.5,
                 ops: Optional[Sequence[str]] = None,
                 jitter: Tuple[float, float, float] = (0.4, 0.4, 10.0),
                 blur_prob: float = 0.5,
                 blur_sigma: Tuple[float, float] = (0.1, 2.0),
                 cutout_prob: float = 0.5,
                 cutout_holes: int = 1,
                 cutout_ratio: Tuple[float, float] = (0.1, 0.3),
                 cutout_fill: Tuple[int, int, int] = (0, 0, 0)) -> None:
        self.ops = list(ops) if ops is not None else list(PHOTOMETRIC_OPS)
        unknown = [op for op in self.ops if op not in PHOTOMETRIC_OPS]
        if unknown:
            raise ValueError(f'StrongPhotometricView.ops: unknown {unknown}; '
                             f'choose from {sorted(PHOTOMETRIC_OPS)}')
        if not 0 <= magnitude <= 1:
            raise ValueError('StrongPhotometricView.magnitude must be in [0, 1]'
                             f', got {magnitude}')
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.jitter = jitter
        self.blur_prob = blur_prob
        self.blur_sigma = blur_sigma
        self.cutout_prob = cutout_prob
        self.cutout_holes = cutout_holes
        self.cutout_ratio = cutout_ratio
        self.cutout_fill = cutout_fill

    def _jitter(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.float32)
        value_gain, sat_gain, hue_deg = self.jitter
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-hue_deg, hue_deg) / 2) % 180
        hsv[..., 1] *= 1 + rng.uniform(-sat_gain, sat_gain)
        hsv[..., 2] *= 1 + rng.uniform(-value_gain, value_gain)
        hsv = np.clip(hsv, 0, [179, 255, 255]).astype(np.uint8)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)

    def _cutout(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        height, width = img.shape[:2]
        img = img.copy()
        for _ in range(self.cutout_holes):
            box_h = int(height * rng.uniform(*self.cutout_ratio))
            box_w = int(width * rng.uniform(*self.cutout_ratio))
            y0 = int(rng.integers(0, max(height - box_h, 0) + 1))
            x0 = int(rng.integers(0, max(width - box_w, 0) + 1))
            img[y0:y0 + box_h, x0:x0 + box_w] = self.cutout_fill
        return img

    def transform(self, results: dict) -> dict:
        # numpy's global RNG is seeded per worker by mmengine, which keeps runs
        # reproducible; a local Generator drawn from it keeps the ops independent.
        rng = np.random.default_rng(np.random.randint(2**31))
        img = np.ascontiguousarray(results['img'])
        for name in rng.choice(self.ops, size=self.num_ops, replace=True):
            img = PHOTOMETRIC_OPS[name](img, self.magnitude, rng)
        img = self._jitter(img, rng)
        if rng.random() < self.blur_prob:
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(*self.blur_sigma))
        if rng.random() < self.cutout_prob:
            img = self._cutout(img, rng)
        results[STRONG_IMG_KEY] = img
        return results
