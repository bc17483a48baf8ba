"""Painting the shapes of a scene in a domain's appearance (flat-shaded source,
photographic target with camera effects)."""
import math
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

from .materials import FLAT_COLOURS, PHOTO_MATERIALS, load_photo_bank
from .rasterize import Shape
from .settings import DOMAINS


def _ramp(rng: np.random.Generator, h: int, w: int, strength: float) -> np.ndarray:
    """(h, w, 1) linear shading ramp 1 +- strength/2 along a random direction."""
    angle = rng.uniform(0.0, 2 * math.pi)
    u = (np.arange(w)[None, :] + 0.5) / w - 0.5
    v = (np.arange(h)[:, None] + 0.5) / h - 0.5
    return (1.0 + strength * (math.cos(angle) * u + math.sin(angle) * v))[..., None]


def _paint_source(rng: np.random.Generator, part: str, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float RGB patch of a flat-shaded part."""
    colours = FLAT_COLOURS[part]
    base = np.asarray(colours[int(rng.integers(len(colours)))], np.float64)
    base = base + rng.uniform(-12.0, 12.0, 3)
    patch = np.broadcast_to(base, (h, w, 3)) * _ramp(rng, h, w, rng.uniform(0.0, 0.3))
    if part == 'sky':  # brighter, paler towards the horizon
        v = ((np.arange(h) + 0.5) / h)[:, None, None]
        patch = patch * (1 - 0.35 * v) + np.array([235.0, 240.0, 245.0]) * 0.35 * v
    elif part == 'sign':  # white inner mark
        inner = (np.abs(np.arange(h)[:, None] + 0.5 - h / 2) < h * 0.22) & \
                (np.abs(np.arange(w)[None, :] + 0.5 - w / 2) < w * 0.22)
        patch = np.where(inner[..., None], 240.0, patch)
    return patch


def _crop(rng: np.random.Generator, image: np.ndarray, box: Tuple[int, int, int, int],
          scale: Tuple[float, float], h: int, w: int) -> np.ndarray:
    """(h, w, 3) random crop of ``image[box]`` resampled at a random scale."""
    x0, y0, x1, y1 = box
    region = image[y0:y1, x0:x1]
    s = rng.uniform(*scale)
    ch = int(min(region.shape[0], max(1, round(h * s))))
    cw = int(min(region.shape[1], max(1, round(w * s))))
    top = int(rng.integers(region.shape[0] - ch + 1))
    left = int(rng.integers(region.shape[1] - cw + 1))
    patch = region[top:top + ch, left:left + cw]
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    interp = cv2.INTER_AREA if ch >= h and cw >= w else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(patch), (w, h), interpolation=interp)


def _paint_face(rng: np.random.Generator, bank: Dict[str, np.ndarray], h: int,
                w: int) -> np.ndarray:
    """(h, w, 3) a real face (LFW subset), tinted with a skin tone."""
    face = bank['faces'][int(rng.integers(len(bank['faces'])))]
    face = cv2.resize(face, (w, h), interpolation=cv2.INTER_AREA)
    skin = np.array([(225, 185, 155), (165, 120, 90)][int(rng.integers(2))], np.float32)
    return (0.45 + 0.8 * face)[..., None] * skin


def _paint_sign(rng: np.random.Generator, bank: Dict[str, np.ndarray], h: int,
                w: int) -> np.ndarray:
    """(h, w, 3) a rimmed sign plate showing a real handwritten digit."""
    digit = bank['digits'][int(rng.integers(len(bank['digits'])))]
    glyph = cv2.resize(np.pad(digit, 1), (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    plate, ink, rim = [((235, 235, 225), (30, 30, 30), (200, 30, 30)),
                       ((235, 200, 50), (25, 25, 25), (25, 25, 25)),
                       ((40, 80, 175), (240, 240, 240), (240, 240, 240))][int(rng.integers(3))]
    face = (1 - glyph) * np.array(plate, np.float32) + glyph * np.array(ink, np.float32)
    v = np.abs((np.arange(h)[:, None] + 0.5) / h - 0.5)
    u = np.abs((np.arange(w)[None, :] + 0.5) / w - 0.5)
    border = (np.hypot(u, v) > 0.32)[..., None]  # a ring on discs, rounded on squares
    return np.where(border, np.array(rim, np.float32), face)


def _paint_target(rng: np.random.Generator, bank: Dict[str, np.ndarray], part: str,
                  h: int, w: int) -> np.ndarray:
    """(h, w, 3) float RGB patch of real content for a part."""
    if part == 'face':
        return _paint_face(rng, bank, h, w)
    if part == 'sign':
        return _paint_sign(rng, bank, h, w)
    materials = PHOTO_MATERIALS[part]
    mat = materials[int(rng.integers(len(materials)))]
    patch = _crop(rng, bank[mat.image], mat.box, mat.scale, h, w)
    if mat.tints:
        grey = patch.mean(axis=2, keepdims=True)
        grey = grey / max(float(grey.mean()), 1.0)
        tint = np.asarray(mat.tints[int(rng.integers(len(mat.tints)))], np.float32)
        patch = (1.0 + 0.8 * (grey - 1.0)) * tint
    return patch * rng.uniform(0.85, 1.15)


def _photometric(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Camera effects of the target: exposure, colour cast, light falloff, gamma,
    defocus blur and sensor noise. (H, W, 3) float -> (H, W, 3) uint8."""
    h, w = image.shape[:2]
    image = image * rng.uniform(0.6, 1.05) * rng.uniform(0.9, 1.1, 3)
    image = image * _ramp(rng, h, w, rng.uniform(0.1, 0.5))
    image = 255.0 * (np.clip(image, 0, 255) / 255.0) ** rng.uniform(0.85, 1.2)
    image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), rng.uniform(0.4, 1.0))
    image = image + rng.normal(0.0, rng.uniform(2.0, 6.0), image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def render_image(shapes: Sequence[Shape], domain: str, rng: np.random.Generator,
                 height: int, width: int) -> np.ndarray:
    """Paints the shapes of a scene in the appearance of ``domain``.

    Returns:
        (H, W, 3) uint8 RGB image.
    """
    if domain not in DOMAINS:
        raise ValueError(f'domain must be one of {DOMAINS}, got {domain!r}')
    bank = load_photo_bank() if domain == 'target' else None
    canvas = np.zeros((height, width, 3), np.float64)
    for shape in shapes:
        rows = np.flatnonzero(shape.mask.any(axis=1))
        cols = np.flatnonzero(shape.mask.any(axis=0))
        if rows.size == 0:
            continue
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        h, w = int(r1 - r0), int(c1 - c0)
        if bank is None:
            patch = _paint_source(rng, shape.part, h, w)
        else:
            patch = _paint_target(rng, bank, shape.part, h, w)
        sub = shape.mask[r0:r1, c0:c1]
        canvas[r0:r1, c0:c1][sub] = patch[sub]
    if bank is None:
        return np.clip(np.round(canvas), 0, 255).astype(np.uint8)
    return _photometric(rng, canvas)
