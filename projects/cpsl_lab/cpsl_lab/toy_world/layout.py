"""The street-scene layout model: objects placed in camera-height units and drawn as
masks, back to front. Units are camera heights; the camera looks along +Z with focal
length = image width in pixels."""
import math
from typing import List, Tuple

import numpy as np

from .rasterize import Canvas, Shape
from .settings import (BUILDING, CAR, FENCE, IGNORE_INDEX, PERSON, POLE, ROAD, SIDEWALK,
                       SIGN, SKY, VEGETATION, LayoutStyle)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A depth drawn uniformly in log space: near and far objects both occur."""
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _background(cv: Canvas, rng: np.random.Generator, style: LayoutStyle,
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


def _facade(cv: Canvas, rng: np.random.Generator, style: LayoutStyle, side: float,
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


def _tree(cv: Canvas, rng: np.random.Generator, x: float, z: float) -> List[Shape]:
    """Trunk and elliptic crown standing at ground point (x, z); all vegetation."""
    trunk_w = rng.uniform(0.06, 0.1)
    trunk_h = rng.uniform(1.3, 2.2)
    rx, ry = rng.uniform(0.7, 1.4), rng.uniform(0.8, 1.5)
    cx, cy = cv.project(x, trunk_h + 0.7 * ry, z)
    s = cv.focal / z
    return [Shape('bark', VEGETATION, cv.box3d(x - trunk_w, x + trunk_w, 0, trunk_h + ry, z)),
            Shape('foliage', VEGETATION, cv.ellipse(cx, cy, rx * s, ry * s))]


def _pole(cv: Canvas, rng: np.random.Generator, x: float, z: float,
          side: float, sign: bool) -> List[Shape]:
    """A thin pole at (x, z), with a sign plate on its road side when ``sign``."""
    half = rng.uniform(0.06, 0.09)
    height = rng.uniform(2.5, 4.5)
    shapes = [Shape('pole', POLE, cv.box3d(x - half, x + half, 0.0, height, z))]
    if sign:
        size = rng.uniform(0.5, 0.7)
        y = rng.uniform(1.35, 2.0)  # plate centre: near the horizon, not the frame's top
        sx = x - side * (half + size / 2)       # hangs on the road side of the pole
        c0, r0 = cv.project(sx - size / 2, y + size / 2, z)
        c1, r1 = cv.project(sx + size / 2, y - size / 2, z)
        if rng.random() < 0.5:
            mask = cv.polygon([(c0, r0), (c1, r0), (c1, r1), (c0, r1)])
        else:
            mask = cv.ellipse((c0 + c1) / 2, (r0 + r1) / 2, (c1 - c0) / 2, (r1 - r0) / 2)
        shapes.append(Shape('sign', SIGN, mask))
    return shapes


def _person(cv: Canvas, rng: np.random.Generator, x: float, z: float) -> List[Shape]:
    """Legs, clothed torso and face of a pedestrian standing at (x, z)."""
    tall = rng.uniform(1.1, 1.35)
    half = rng.uniform(0.17, 0.23)
    s = cv.focal / z
    hx, hy = cv.project(x, tall - 0.09, z)
    legs = tall * 0.47
    return [Shape('legs', PERSON, cv.box3d(x - half * 0.8, x + half * 0.8, 0.0, legs, z)),
            Shape('cloth', PERSON, cv.box3d(x - half, x + half, legs, tall - 0.16, z)),
            Shape('face', PERSON, cv.ellipse(hx, hy, 0.08 * s, 0.1 * s))]


def _car(cv: Canvas, rng: np.random.Generator, x: float, z: float) -> List[Shape]:
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


def _fence(cv: Canvas, rng: np.random.Generator, x: float) -> List[Shape]:
    """A fence in the plane X = x over a random depth range: its panel (what shows
    between the slats) and, over it, slats, posts and a top rail.

    Slats are drawn where one period spans at least 3 px; farther on, where they
    would alias into noise, the panel shows between posts and rail.
    """
    z0 = rng.uniform(3.5, 10.0)
    z1 = z0 + rng.uniform(5.0, 25.0)
    height = rng.uniform(0.8, 1.2)
    mask = cv.side3d(x, 0.0, height, z0, z1)
    z = cv.focal * abs(x) / np.maximum(np.abs(cv.cols - cv.vanish_x), 1e-6)  # (1, W)
    period = rng.uniform(0.25, 0.5)
    px_per_period = period * cv.focal * abs(x) / np.maximum(z, 1e-6) ** 2
    slats = (np.mod(z / period, 1.0) < 0.55) & (px_per_period >= 3.0)
    posts = np.mod(z / rng.uniform(2.0, 3.0), 1.0) < 0.08
    rail = cv.side3d(x, height * 0.8, height, z0, z1)
    return [Shape('fence', FENCE, mask),
            Shape('fence_bar', FENCE, mask & (slats | posts | rail))]


def _clutter(cv: Canvas, rng: np.random.Generator, x: float, z: float) -> List[Shape]:
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
    cv = Canvas(height, width, height * rng.uniform(*style.horizon),
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
        sign = bool(rng.random() < style.sign_prob)
        # Sign poles stand nearer: a plate stays >= ~5 px wide (see ToyConfig).
        z = _log_uniform(rng, z_min + 1.5, 14.0 if sign else 25.0)
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
