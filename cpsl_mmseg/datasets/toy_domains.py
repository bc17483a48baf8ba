"""Procedural toy domains for offline UDA: a flat-shaded source and a photographic target.

Both domains draw street scenes from one pinhole-camera layout model (road, sidewalks,
building facades, trees, poles with traffic signs, people, cars; a few unlabelled
objects marked 255) and differ in two ways, as GTA5 and Cityscapes do:

* appearance (the real gap): the *source* paints every part in a flat colour with a
  linear shading ramp (the synthetic-rendering role); the *target* fills each part with
  crops of real photographs and textures bundled inside scikit-image and scikit-learn
  (gravel, brick, grass, a pagoda, a garage, a rocket gantry, faces, handwritten
  digits, ...), then applies lighting, colour cast, gamma, blur and sensor noise;
* layout statistics (a mild shift): horizon, road width, object counts differ a little
  (:data:`SOURCE_LAYOUT` vs :data:`TARGET_LAYOUT`), so class frequencies shift too.

Everything is a pure function of ``(seed, domain, split, index)``: every image has its
own ``numpy`` generator, so a tree is byte-identical for a seed, and enlarging a split
keeps the images already there. Units of the layout model are camera heights; the
camera looks along +Z with focal length = image width in pixels.
"""
import functools
import gzip
import importlib.util
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

CLASSES: Tuple[str, ...] = ('road', 'sidewalk', 'building', 'fence', 'pole',
                            'traffic sign', 'vegetation', 'sky', 'person', 'car')
# Cityscapes colours of the same classes.
PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (190, 153, 153), (153, 153, 153),
    (220, 220, 0), (107, 142, 35), (70, 130, 180), (220, 20, 60), (0, 0, 142))
IGNORE_INDEX = 255
DOMAINS: Tuple[str, ...] = ('source', 'target')
SPLITS: Tuple[str, ...] = ('train', 'val')
# Bump whenever a change alters generated pixels: it is part of the recorded settings.
GENERATOR_VERSION = 2

ROAD, SIDEWALK, BUILDING, FENCE, POLE, SIGN, VEGETATION, SKY, PERSON, CAR = range(10)


@dataclass(frozen=True)
class ToyConfig:
    """Settings of one toy tree (recorded in ``meta.json``; equal settings, equal files).

    Default size: 128x64 keeps poles (1-4 px wide) and signs (2-12 px) visible while
    the tiny CNN of ``benchmarks/probe_toy_gap.py`` trains at ~20 images/s on 2 CPU
    cores, so a 15-minute pipeline affords several short trainings; 500 train images
    per domain are enough for a few hundred iterations without memorising; 100 target
    val images hold 819k pixels, so even the rarest class (~0.25 %) is scored on ~2k
    pixels. Generator version 2 drew poles, signs and people larger and nearer than
    version 1, whose 1-px poles, 4x4 signs and distant people no network of the toy
    pipeline learned, not even the target oracle.
    The default tree is written in well under a minute (about 25 s on 2 cores).
    """

    seed: int = 0
    width: int = 128
    height: int = 64
    source_train: int = 500
    source_val: int = 50
    target_train: int = 500
    target_val: int = 100

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 8:
            raise ValueError(f'width/height must be at least 16x8, got '
                             f'{self.width}x{self.height}')
        for domain in DOMAINS:
            for split in SPLITS:
                if self.count(domain, split) < 0:
                    raise ValueError(f'{domain}_{split} must be >= 0')

    def count(self, domain: str, split: str) -> int:
        """Number of images of ``domain``/``split``."""
        return int(getattr(self, f'{domain}_{split}'))

    @property
    def total(self) -> int:
        """Number of images over both domains and splits."""
        return sum(self.count(d, s) for d in DOMAINS for s in SPLITS)

    def settings(self) -> dict:
        """The generation settings as recorded under ``meta.json['settings']``."""
        return dict(generator_version=GENERATOR_VERSION, **asdict(self))


@dataclass(frozen=True)
class LayoutStyle:
    """Layout statistics of a domain (ranges are uniform, counts Poisson means)."""

    horizon: Tuple[float, float]          # horizon row, fraction of the height
    vanish_x: Tuple[float, float]         # vanishing point column, fraction of width
    road_half: Tuple[float, float]        # road half width (camera heights)
    sidewalk: Tuple[float, float]         # sidewalk width
    building_height: Tuple[float, float]  # facade height
    gap_prob: float                       # a facade block is a park instead
    cars: float
    persons: float
    poles: float
    sign_prob: float                      # a pole carries a traffic sign
    trees: float
    fence_prob: float
    clutter: float                        # unlabelled (255) street furniture


SOURCE_LAYOUT = LayoutStyle(
    horizon=(0.32, 0.44), vanish_x=(0.35, 0.65), road_half=(1.5, 2.7),
    sidewalk=(0.6, 1.3), building_height=(2.0, 7.0), gap_prob=0.3, cars=3.0,
    persons=1.5, poles=2.0, sign_prob=0.3, trees=1.5, fence_prob=0.4, clutter=0.6)
TARGET_LAYOUT = LayoutStyle(
    horizon=(0.30, 0.42), vanish_x=(0.40, 0.60), road_half=(1.4, 2.6),
    sidewalk=(0.7, 1.5), building_height=(2.0, 8.0), gap_prob=0.25, cars=2.5,
    persons=2.2, poles=2.5, sign_prob=0.3, trees=2.0, fence_prob=0.4, clutter=0.8)
LAYOUTS: Dict[str, LayoutStyle] = dict(source=SOURCE_LAYOUT, target=TARGET_LAYOUT)


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


# ---------------------------------------------------------------------------- layout
class _Canvas:
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


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A depth drawn uniformly in log space: near and far objects both occur."""
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _background(cv: _Canvas, rng: np.random.Generator, style: LayoutStyle,
                road: Tuple[float, float], walk: Tuple[float, float]) -> List[Shape]:
    """Sky, far skyline, ground (road, lane marks, sidewalks, park) and both facades."""
    shapes = [Shape('sky', SKY, np.ones((cv.h, cv.w), bool))]
    far_z = rng.uniform(35.0, 70.0)
    far_scale = cv.focal / far_z
    far_top = np.full(cv.w, np.inf)
    far_kind = np.zeros(cv.w, bool)  # True: trees instead of buildings
    col = 0
    while col < cv.w:
        width = int(rng.integers(max(3, cv.w // 20), max(4, cv.w // 7)))
        trees = rng.random() < 0.35
        height = rng.uniform(1.5, 3.0) if trees else rng.uniform(1.5, 6.0)
        far_top[col:col + width] = cv.horizon - (height - 1.0) * far_scale
        far_kind[col:col + width] = trees
        col += width
    far_bottom = cv.horizon + far_scale
    far = (cv.rows >= far_top[None, :]) & (cv.rows < far_bottom)
    shapes.append(Shape('skyline', BUILDING, far & ~far_kind[None, :]))
    shapes.append(Shape('foliage', VEGETATION, far & far_kind[None, :]))

    depth = cv.rows - cv.horizon                      # (H, 1) rows below the horizon
    near = cv.rows >= far_bottom
    t = (cv.cols - cv.vanish_x) / np.maximum(depth, 1e-6)  # lateral / camera height
    z = cv.focal / np.maximum(depth, 1e-6)
    a_l, a_r = road
    d_l, d_r = a_l + walk[0], a_r + walk[1]
    shapes.append(Shape('park', VEGETATION, near & ((t < -d_l) | (t > d_r))))
    shapes.append(Shape('road', ROAD, near & (t >= -a_l) & (t <= a_r)))
    lane_t = rng.uniform(-0.3, 0.3) * (a_l + a_r) / 2
    dash = np.mod(z / rng.uniform(2.0, 4.0), 1.0) < 0.45
    shapes.append(Shape('lane', ROAD, near & (np.abs(t - lane_t) < 0.05) & dash))
    shapes.append(Shape('sidewalk', SIDEWALK,
                        near & (((t >= -d_l) & (t < -a_l)) | ((t > a_r) & (t <= d_r)))))
    for side, dist in ((-1.0, d_l), (1.0, d_r)):
        shapes += _facade(cv, rng, style, side, dist, far_z)
    return shapes


def _facade(cv: _Canvas, rng: np.random.Generator, style: LayoutStyle, side: float,
            dist: float, far_z: float) -> List[Shape]:
    """Building blocks (with windows) or park hedges along the plane X = side * dist."""
    offset = side * (cv.cols[0] - cv.vanish_x)          # (W,) pixels away from the VP
    scale = np.where(offset > 0, offset / dist, 0.0)    # pixels per camera height
    z = np.where(scale > 0, cv.focal / np.maximum(scale, 1e-6), np.inf)
    z_finite = np.where(scale > 0, z, 0.0)
    height = np.zeros(cv.w)
    hedge = np.zeros(cv.w, bool)
    start = 0.0
    while start < far_z:
        length = rng.uniform(4.0, 14.0)
        span = (z >= start) & (z < start + length) & (z < far_z)
        if rng.random() < style.gap_prob:
            height[span] = rng.uniform(1.3, 2.5)
            hedge[span] = True
        else:
            height[span] = rng.uniform(*style.building_height)
        start += length
    top = cv.horizon - (height - 1.0) * scale
    bottom = cv.horizon + scale
    body = (scale[None, :] > 0) & (cv.rows >= top[None, :]) & (cv.rows < bottom[None, :])
    building = body & ~hedge[None, :]
    above = (bottom[None, :] - cv.rows) / np.maximum(scale[None, :], 1e-6)
    win_z = np.mod(z_finite / rng.uniform(1.2, 2.2), 1.0)[None, :] < rng.uniform(0.35, 0.6)
    floor = np.mod(above / rng.uniform(1.6, 2.2), 1.0)
    windows = (building & win_z & (floor > 0.3) & (floor < 0.75) & (above > 1.2)
               & (above < height[None, :] - 0.3) & (scale[None, :] > 2.0))
    return [Shape('building', BUILDING, building), Shape('window', BUILDING, windows),
            Shape('foliage', VEGETATION, body & hedge[None, :])]


def _tree(cv: _Canvas, rng: np.random.Generator, x: float, z: float) -> List[Shape]:
    """Trunk and elliptic crown standing at ground point (x, z); all vegetation."""
    trunk_w = rng.uniform(0.06, 0.1)
    trunk_h = rng.uniform(1.3, 2.2)
    rx, ry = rng.uniform(0.7, 1.4), rng.uniform(0.8, 1.5)
    cx, cy = cv.project(x, trunk_h + 0.7 * ry, z)
    s = cv.focal / z
    return [Shape('bark', VEGETATION, cv.box3d(x - trunk_w, x + trunk_w, 0, trunk_h + ry, z)),
            Shape('foliage', VEGETATION, cv.ellipse(cx, cy, rx * s, ry * s))]


def _pole(cv: _Canvas, rng: np.random.Generator, x: float, z: float,
          side: float, sign: bool) -> List[Shape]:
    """A thin pole at (x, z), with a small sign on its road side when ``sign``."""
    half = rng.uniform(0.06, 0.09)
    height = rng.uniform(2.5, 4.5)
    shapes = [Shape('pole', POLE, cv.box3d(x - half, x + half, 0.0, height, z))]
    if sign:
        size = rng.uniform(0.4, 0.6)
        y = rng.uniform(1.7, min(2.6, height - 0.1))
        sx = x - side * (half + size / 2)       # hangs on the road side of the pole
        c0, r0 = cv.project(sx - size / 2, y + size / 2, z)
        c1, r1 = cv.project(sx + size / 2, y - size / 2, z)
        if rng.random() < 0.5:
            mask = cv.polygon([(c0, r0), (c1, r0), (c1, r1), (c0, r1)])
        else:
            mask = cv.ellipse((c0 + c1) / 2, (r0 + r1) / 2, (c1 - c0) / 2, (r1 - r0) / 2)
        shapes.append(Shape('sign', SIGN, mask))
    return shapes


def _person(cv: _Canvas, rng: np.random.Generator, x: float, z: float) -> List[Shape]:
    """Legs, clothed torso and face of a pedestrian standing at (x, z)."""
    tall = rng.uniform(1.0, 1.25)
    half = rng.uniform(0.15, 0.2)
    s = cv.focal / z
    hx, hy = cv.project(x, tall - 0.09, z)
    legs = tall * 0.47
    return [Shape('legs', PERSON, cv.box3d(x - half * 0.8, x + half * 0.8, 0.0, legs, z)),
            Shape('cloth', PERSON, cv.box3d(x - half, x + half, legs, tall - 0.16, z)),
            Shape('face', PERSON, cv.ellipse(hx, hy, 0.08 * s, 0.1 * s))]


def _car(cv: _Canvas, rng: np.random.Generator, x: float, z: float) -> List[Shape]:
    """A box car seen from behind (or the front), with its inner side when off-axis."""
    half, length = rng.uniform(0.55, 0.65), rng.uniform(2.6, 3.2)
    belt, roof = rng.uniform(0.5, 0.6), rng.uniform(0.9, 1.05)
    body = cv.box3d(x - half, x + half, 0.12, belt, z)
    cabin = cv.box3d(x - half * 0.85, x + half * 0.85, belt, roof, z)
    glass = cv.box3d(x - half * 0.7, x + half * 0.7, belt + 0.05, roof - 0.07, z)
    wheels = (cv.box3d(x - half, x - half * 0.6, 0.0, 0.2, z)
              | cv.box3d(x + half * 0.6, x + half, 0.0, 0.2, z))
    side_x = x + half if x + half < 0 else (x - half if x - half > 0 else None)
    if side_x is not None:
        body |= cv.side3d(side_x, 0.12, belt, z, z + length)
        cabin |= cv.side3d(side_x, belt, roof, z + 0.5, z + length - 0.7)
        glass |= cv.side3d(side_x, belt + 0.05, roof - 0.07, z + 0.6, z + length - 0.8)
        for wz in (z + 0.5, z + length - 0.5):
            wheels |= cv.side3d(side_x, 0.0, 0.3, wz - 0.3, wz + 0.3)
    return [Shape('paint', CAR, body | cabin), Shape('glass', CAR, glass & ~body),
            Shape('wheel', CAR, wheels)]


def _fence(cv: _Canvas, rng: np.random.Generator, x: float) -> List[Shape]:
    """A low fence in the plane X = x over a random depth range, with bars."""
    z0 = rng.uniform(3.5, 10.0)
    z1 = z0 + rng.uniform(5.0, 25.0)
    height = rng.uniform(0.5, 0.85)
    mask = cv.side3d(x, 0.0, height, z0, z1)
    z = cv.focal * abs(x) / np.maximum(np.abs(cv.cols - cv.vanish_x), 1e-6)
    bars = mask & (np.mod(z / rng.uniform(0.25, 0.5), 1.0) < 0.4)
    return [Shape('fence', FENCE, mask), Shape('fence_bar', FENCE, bars)]


def _clutter(cv: _Canvas, rng: np.random.Generator, x: float, z: float) -> List[Shape]:
    """Unlabelled street furniture (a box marked 255) at (x, z)."""
    half, tall = rng.uniform(0.15, 0.35), rng.uniform(0.4, 0.9)
    return [Shape('clutter', IGNORE_INDEX, cv.box3d(x - half, x + half, 0.0, tall, z))]


def sample_layout(rng: np.random.Generator, style: LayoutStyle, height: int,
                  width: int) -> List[Shape]:
    """Samples one street scene as shapes in painting order (back to front).

    Args:
        rng: the image's generator (consumed in a fixed order).
        style: the domain's layout statistics.
        height, width: image size in pixels.

    Returns:
        Shapes whose masks are (height, width) bool arrays.
    """
    cv = _Canvas(height, width, height * rng.uniform(*style.horizon),
                 width * rng.uniform(*style.vanish_x))
    road = (rng.uniform(*style.road_half), rng.uniform(*style.road_half))
    walk = (rng.uniform(*style.sidewalk), rng.uniform(*style.sidewalk))
    shapes = _background(cv, rng, style, road, walk)
    sides = ((-1.0, road[0], walk[0]), (1.0, road[1], walk[1]))
    z_min = cv.focal / max(height - cv.horizon, 1.0) * 1.05  # ground point on screen

    objects: List[Tuple[float, List[Shape]]] = []  # (depth, shapes)
    if rng.random() < style.fence_prob:
        side, a, w = sides[int(rng.integers(2))]
        objects.append((1e3, _fence(cv, rng, side * (a + w - 0.05))))
    for _ in range(rng.poisson(style.trees)):
        side, a, w = sides[int(rng.integers(2))]
        z = _log_uniform(rng, z_min + 1.0, 45.0)
        objects.append((z, _tree(cv, rng, side * (a + w * rng.uniform(0.5, 0.85)), z)))
    for _ in range(rng.poisson(style.poles)):
        side, a, _w = sides[int(rng.integers(2))]
        z = _log_uniform(rng, z_min + 1.5, 25.0)
        sign = bool(rng.random() < style.sign_prob)
        objects.append((z, _pole(cv, rng, side * (a + 0.25), z, side, sign)))
    for _ in range(rng.poisson(style.persons)):
        side, a, w = sides[int(rng.integers(2))]
        on_road = rng.random() < 0.1
        x = side * (rng.uniform(0.2, a) if on_road else a + w * rng.uniform(0.2, 0.8))
        z = _log_uniform(rng, z_min, 18.0)
        objects.append((z, _person(cv, rng, x, z)))
    for _ in range(rng.poisson(style.cars)):
        side, a, _w = sides[int(rng.integers(2))]
        parked = rng.random() < 0.5
        x = side * (a - 0.7 if parked else rng.uniform(0.0, max(a - 1.2, 0.1)))
        z = _log_uniform(rng, z_min, 45.0)
        objects.append((z, _car(cv, rng, x, z)))
    for _ in range(rng.poisson(style.clutter)):
        side, a, w = sides[int(rng.integers(2))]
        z = _log_uniform(rng, z_min, 30.0)
        objects.append((z, _clutter(cv, rng, side * (a + w * rng.uniform(0.3, 0.9)), z)))
    # Far objects first; ties keep sampling order (stable sort).
    for _z, group in sorted(objects, key=lambda item: -item[0]):
        shapes += group
    return shapes


def rasterize_labels(shapes: Sequence[Shape], height: int, width: int) -> np.ndarray:
    """(H, W) uint8 label map: the class of the last shape covering each pixel."""
    label = np.full((height, width), IGNORE_INDEX, np.uint8)
    for shape in shapes:
        label[shape.mask] = shape.label
    return label


# ---------------------------------------------------------------- source appearance
# Flat "rendered" colours per part (RGB 0-255); one is picked per shape, then jittered.
_FLAT_COLOURS: Dict[str, Sequence[Tuple[int, int, int]]] = {
    'sky': ((90, 150, 225), (110, 165, 235), (175, 200, 230)),  # incl. overcast
    'skyline': ((135, 130, 140), (150, 140, 130)),
    'foliage': ((55, 130, 45), (75, 145, 50), (45, 110, 55)),
    'park': ((95, 150, 60), (80, 140, 55)),
    'road': ((85, 85, 92), (100, 98, 104)),
    'lane': ((235, 235, 225),),
    'sidewalk': ((175, 165, 155), (160, 160, 165)),
    'building': ((190, 170, 135), (160, 90, 75), (135, 135, 145), (205, 195, 175)),
    'window': ((55, 70, 95), (150, 185, 210)),
    'bark': ((100, 70, 45),),
    'pole': ((125, 125, 130), (90, 110, 90)),
    'sign': ((205, 35, 35), (35, 75, 200), (235, 205, 35)),
    'legs': ((40, 45, 80), (35, 35, 40)),
    'cloth': ((200, 50, 50), (50, 120, 200), (235, 235, 235), (60, 160, 70), (240, 180, 40)),
    'face': ((225, 185, 150), (160, 110, 80)),
    'paint': ((200, 30, 30), (30, 60, 170), (235, 235, 240), (30, 30, 35), (175, 180, 185),
              (230, 200, 40)),
    'glass': ((40, 55, 70),),
    'wheel': ((20, 20, 22),),
    'fence': ((150, 115, 80), (120, 120, 110)),
    'fence_bar': ((95, 70, 50), (80, 80, 75)),
    'clutter': ((60, 120, 60), (110, 110, 110), (200, 130, 40)),
}


def _ramp(rng: np.random.Generator, h: int, w: int, strength: float) -> np.ndarray:
    """(h, w, 1) linear shading ramp 1 +- strength/2 along a random direction."""
    angle = rng.uniform(0.0, 2 * math.pi)
    u = (np.arange(w)[None, :] + 0.5) / w - 0.5
    v = (np.arange(h)[:, None] + 0.5) / h - 0.5
    return (1.0 + strength * (math.cos(angle) * u + math.sin(angle) * v))[..., None]


def _paint_source(rng: np.random.Generator, part: str, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float RGB patch of a flat-shaded part."""
    colours = _FLAT_COLOURS[part]
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


# ------------------------------------------------------------------- photo content
def _package_dir(module: str, requirement: str) -> Path:
    """Install folder of a package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f'the toy target domain needs the images bundled with {requirement} '
            f'(listed in requirements/runtime.txt): pip install {requirement}')
    return Path(list(spec.submodule_search_locations)[0])


def _read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) float32 RGB in 0..255 of a bundled image."""
    if not path.is_file():
        raise FileNotFoundError(f'bundled image {path} is missing from its package')
    with Image.open(path) as im:
        return np.asarray(im.convert('RGB'), np.float32)


@dataclass(frozen=True)
class _Material:
    """Crops of one bundled image; grey ones are tinted with one of ``tints``."""

    image: str
    box: Tuple[int, int, int, int]      # x0, y0, x1, y1 in the image
    tints: Tuple[Tuple[int, int, int], ...] = ()
    scale: Tuple[float, float] = (1.0, 2.5)  # photo pixels per output pixel


# Which real content fills which part in the target domain.
_MATERIALS: Dict[str, Tuple[_Material, ...]] = {
    'sky': (_Material('china', (380, 0, 640, 110), scale=(0.6, 1.2)),
            _Material('camera', (0, 0, 512, 90), ((205, 215, 230),), (0.6, 1.2))),
    'skyline': (_Material('camera', (250, 140, 512, 235), ((150, 155, 165),), (0.5, 1.0)),
                _Material('china', (290, 180, 420, 230), scale=(0.5, 1.0))),
    'foliage': (_Material('grass', (0, 0, 512, 512), ((70, 95, 45), (55, 85, 60)),
                          (2.0, 4.0)),
                _Material('flower', (0, 0, 150, 420), scale=(0.8, 2.0)),
                _Material('china', (330, 290, 640, 427)),
                _Material('china', (0, 300, 70, 427))),
    'park': (_Material('grass', (0, 0, 512, 512), ((105, 120, 60), (90, 110, 65)),
                       (2.0, 4.0)),),
    'road': (_Material('gravel', (0, 0, 512, 512), ((95, 95, 100), (80, 80, 84),
                                                     (110, 106, 100)), (3.0, 6.0)),),
    'lane': (_Material('gravel', (0, 0, 512, 512), ((215, 215, 205),), (3.0, 6.0)),),
    'sidewalk': (_Material('brick', (0, 0, 512, 512), ((160, 152, 145), (140, 140, 145)),
                           (2.0, 4.0)),
                 _Material('motorcycle', (0, 400, 741, 500), scale=(0.8, 2.0))),
    'building': (_Material('china', (90, 100, 340, 380)),
                 _Material('motorcycle', (0, 0, 741, 200)),
                 _Material('text', (0, 0, 448, 172), ((185, 170, 150), (150, 150, 155)))),
    'window': (_Material('hubble', (0, 0, 1000, 872), ((60, 70, 85),)),
               _Material('china', (380, 0, 640, 110), ((120, 140, 160),), (0.5, 1.0))),
    'bark': (_Material('coffee', (450, 0, 600, 400)),),
    'pole': (_Material('moon', (0, 0, 512, 512), ((110, 110, 115), (70, 85, 75))),),
    'sign': (),  # plates with handwritten digits, see _paint_sign
    'legs': (_Material('gravel', (0, 0, 512, 512), ((45, 50, 75), (40, 40, 45))),),
    'cloth': (_Material('astronaut', (100, 250, 420, 512)),
              _Material('chelsea', (0, 0, 451, 300)),
              _Material('flower', (180, 120, 430, 330)),
              _Material('ihc', (0, 0, 512, 512))),
    'face': (),  # faces, see _paint_face
    'paint': (_Material('motorcycle', (300, 200, 700, 420)),
              _Material('coffee', (50, 30, 400, 380)),
              _Material('astronaut', (0, 0, 512, 512)),
              _Material('color', (40, 40, 330, 330)),
              _Material('rocket', (130, 0, 430, 250))),
    'glass': (_Material('china', (380, 0, 640, 110), ((45, 55, 65),), (0.5, 1.0)),
              _Material('rocket', (130, 0, 430, 250), scale=(0.5, 1.0))),
    'wheel': (_Material('gravel', (0, 0, 512, 512), ((30, 30, 32),)),),
    'fence': (_Material('rocket', (0, 0, 95, 420), scale=(1.5, 3.0)),
              _Material('rocket', (560, 0, 640, 420), scale=(1.5, 3.0)),
              _Material('coffee', (450, 0, 600, 400))),
    'fence_bar': (_Material('coffee', (450, 0, 600, 400), ((90, 65, 45),)),),
    'clutter': (_Material('coins', (0, 0, 384, 303), ((150, 150, 140),)),
                _Material('cell', (0, 0, 660, 550), ((120, 130, 110),)),
                _Material('retina', (200, 200, 1200, 1200))),
}

_SKIMAGE_FILES = dict(brick='brick.png', grass='grass.png', gravel='gravel.png',
                      camera='camera.png', moon='moon.png', text='text.png',
                      coins='coins.png', cell='cell.png', astronaut='astronaut.png',
                      chelsea='chelsea.png', coffee='coffee.png', color='color.png',
                      motorcycle='motorcycle_left.png', rocket='rocket.jpg',
                      hubble='hubble_deep_field.jpg', retina='retina.jpg', ihc='ihc.png')
_SKLEARN_FILES = dict(china='china.jpg', flower='flower.jpg')


@functools.lru_cache(maxsize=1)
def load_photo_bank() -> Dict[str, np.ndarray]:
    """The bundled real content, read from package data (never downloaded).

    Returns:
        name -> float32 array: photographs and textures as (H, W, 3) RGB in 0..255,
        ``'faces'`` as (200, 25, 25) grey faces in 0..1 (scikit-image's LFW subset) and
        ``'digits'`` as (1797, 8, 8) handwritten digits in 0..1 (scikit-learn).
    """
    skimage_data = _package_dir('skimage', 'scikit-image') / 'data'
    sklearn_dir = _package_dir('sklearn', 'scikit-learn') / 'datasets'
    bank = {name: _read_rgb(skimage_data / file) for name, file in _SKIMAGE_FILES.items()}
    bank.update({name: _read_rgb(sklearn_dir / 'images' / file)
                 for name, file in _SKLEARN_FILES.items()})
    faces_path = skimage_data / 'lfw_subset.npy'
    if not faces_path.is_file():
        raise FileNotFoundError(f'bundled faces {faces_path} are missing from scikit-image')
    bank['faces'] = np.load(faces_path).astype(np.float32)
    digits_path = sklearn_dir / 'data' / 'digits.csv.gz'
    with gzip.open(digits_path, 'rt') as f:
        digits = np.loadtxt(f, delimiter=',', dtype=np.float32)
    bank['digits'] = digits[:, :64].reshape(-1, 8, 8) / 16.0
    return bank


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
    """(h, w, 3) a sign plate showing a real handwritten digit."""
    digit = bank['digits'][int(rng.integers(len(bank['digits'])))]
    glyph = cv2.resize(np.pad(digit, 1), (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    plate, ink = [((235, 235, 225), (30, 30, 30)), ((235, 200, 50), (25, 25, 25)),
                  ((40, 80, 175), (240, 240, 240))][int(rng.integers(3))]
    return (1 - glyph) * np.array(plate, np.float32) + glyph * np.array(ink, np.float32)


def _paint_target(rng: np.random.Generator, bank: Dict[str, np.ndarray], part: str,
                  h: int, w: int) -> np.ndarray:
    """(h, w, 3) float RGB patch of real content for a part."""
    if part == 'face':
        return _paint_face(rng, bank, h, w)
    if part == 'sign':
        return _paint_sign(rng, bank, h, w)
    materials = _MATERIALS[part]
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


# --------------------------------------------------------------------- samples
def sample_rng(seed: int, domain: str, split: str, index: int) -> np.random.Generator:
    """The generator of one image: independent of every other image and of counts."""
    return np.random.default_rng([seed, DOMAINS.index(domain), SPLITS.index(split), index])


def sample_name(domain: str, split: str, index: int) -> str:
    """File stem of an image and its label (unique across domains and splits)."""
    return f'{domain}_{split}_{index:05d}'


def generate_sample(config: ToyConfig, domain: str, split: str,
                    index: int) -> Tuple[np.ndarray, np.ndarray]:
    """One (image, label) pair.

    Returns:
        image: (H, W, 3) uint8 RGB; label: (H, W) uint8 class ids, 255 = ignore.
    """
    rng = sample_rng(config.seed, domain, split, index)
    shapes = sample_layout(rng, LAYOUTS[domain], config.height, config.width)
    label = rasterize_labels(shapes, config.height, config.width)
    image = render_image(shapes, domain, rng, config.height, config.width)
    return image, label


def class_pixel_counts(label: np.ndarray) -> np.ndarray:
    """(C,) int64 pixel count per class of a label map (ignored pixels excluded)."""
    valid = label[label != IGNORE_INDEX]
    return np.bincount(valid.ravel(), minlength=len(CLASSES)).astype(np.int64)


def split_dirs(root: Path, domain: str, split: str) -> Tuple[Path, Path]:
    """(images dir, labels dir) of a split: ROOT/DOMAIN/{images,labels}/SPLIT."""
    return root / domain / 'images' / split, root / domain / 'labels' / split


def write_split(root: Path, config: ToyConfig, domain: str, split: str,
                progress: Optional[Callable[[], None]] = None) -> dict:
    """Writes one split's PNGs under ``root``; returns its ``meta.json`` statistics."""
    img_dir, lbl_dir = split_dirs(root, domain, split)
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    counts = np.zeros(len(CLASSES), np.int64)
    ignored = 0
    for index in range(config.count(domain, split)):
        image, label = generate_sample(config, domain, split, index)
        name = sample_name(domain, split, index)
        Image.fromarray(image, 'RGB').save(img_dir / f'{name}.png')
        Image.fromarray(label, 'L').save(lbl_dir / f'{name}.png')
        counts += class_pixel_counts(label)
        ignored += int((label == IGNORE_INDEX).sum())
        if progress is not None:
            progress()
    return dict(num_images=config.count(domain, split), pixel_counts=counts.tolist(),
                ignored_pixels=ignored)


def build_meta(config: ToyConfig, split_stats: Dict[str, dict]) -> dict:
    """Content of ``meta.json``: classes, palette, settings and per-split statistics."""
    return dict(classes=list(CLASSES), palette=[list(c) for c in PALETTE],
                ignore_index=IGNORE_INDEX, layout='{domain}/{images,labels}/{split}/NAME.png',
                settings=config.settings(), splits=split_stats)


def expected_names(config: ToyConfig, domain: str, split: str) -> List[str]:
    """Sorted file stems a complete split holds."""
    return [sample_name(domain, split, i) for i in range(config.count(domain, split))]


def _is_complete(root: Path, config: ToyConfig) -> bool:
    """Whether every expected image and label file of ``config`` is present."""
    for domain in DOMAINS:
        for split in SPLITS:
            want = {f'{name}.png' for name in expected_names(config, domain, split)}
            for folder in split_dirs(root, domain, split):
                have = {p.name for p in folder.glob('*.png')} if folder.is_dir() else set()
                if have != want:
                    return False
    return True


def _read_settings(meta_path: Path) -> Optional[dict]:
    """``settings`` recorded in a meta.json, or None when unreadable."""
    try:
        return json.loads(meta_path.read_text()).get('settings')
    except (OSError, ValueError, AttributeError):
        return None


def prepare_toy_tree(root: os.PathLike, config: ToyConfig, force: bool = False,
                     progress: Optional[Callable[[], None]] = None) -> str:
    """Generates the toy tree at ``root`` unless the same settings are already there.

    Writes into a staging folder beside ``root`` and moves the result in at the end,
    ``meta.json`` last, so an interrupted run never leaves a tree that looks complete.
    Files of ``root`` other than ``source/``, ``target/`` and ``meta.json`` are kept.

    Args:
        root: tree root (``ROOT/{source,target}/{images,labels}/{train,val}``).
        config: generation settings.
        force: regenerate even over a tree with other settings or without meta.json.
        progress: called once per written image.

    Returns:
        ``'skipped'`` when ``root`` already holds this config's complete tree,
        otherwise ``'generated'``.

    Raises:
        FileExistsError: ``root`` holds a toy tree of other settings, or toy folders
            without a readable ``meta.json``, and ``force`` is False.
    """
    root = Path(root)
    meta_path = root / 'meta.json'
    settings = _read_settings(meta_path) if meta_path.is_file() else None
    same = settings == config.settings()
    if same and not force and _is_complete(root, config):
        return 'skipped'
    if not force and not same:
        if settings is not None:
            changed = sorted(k for k in set(settings) | set(config.settings())
                             if settings.get(k) != config.settings().get(k))
            raise FileExistsError(
                f'{meta_path} records a toy tree with other settings (differing: '
                f'{", ".join(changed)}); pass --force (force=True) to replace it')
        present = [p for p in (meta_path, root / 'source', root / 'target') if p.exists()]
        if present:
            raise FileExistsError(
                f'{present[0]} exists but {meta_path} holds no readable settings: not a '
                f'complete toy tree; pass --force (force=True) to replace it')
    staging = root.parent / f'.{root.name}.partial'
    if staging.exists():
        shutil.rmtree(staging)
    stats = {f'{domain}/{split}': write_split(staging, config, domain, split, progress)
             for domain in DOMAINS for split in SPLITS}
    root.mkdir(parents=True, exist_ok=True)
    if meta_path.exists():
        meta_path.unlink()
    for domain in DOMAINS:
        if (root / domain).exists():
            shutil.rmtree(root / domain)
        shutil.move(str(staging / domain), str(root / domain))
    tmp_meta = staging / 'meta.json'
    tmp_meta.write_text(json.dumps(build_meta(config, stats), indent=2) + '\n')
    os.replace(tmp_meta, meta_path)
    shutil.rmtree(staging)
    return 'generated'
