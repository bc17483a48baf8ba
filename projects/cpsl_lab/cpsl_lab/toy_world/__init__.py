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
keeps the images already there.

One concern per module, in the order an image is made:

* :mod:`.settings`   classes, domains, generation settings, layout statistics;
* :mod:`.layout`     a scene as shapes placed in camera-height units;
* :mod:`.rasterize`  the camera, shape masks, the label map;
* :mod:`.materials`  flat colours (source) and bundled photographs (target);
* :mod:`.render`     painting the shapes, camera effects of the target;
* :mod:`.tree`       writing and checking a tree on disk.
"""
from .layout import sample_layout
from .rasterize import class_pixel_counts, rasterize_labels
from .render import render_image
from .settings import (CLASSES, DOMAINS, GENERATOR_VERSION, IGNORE_INDEX, LAYOUTS,
                       PALETTE, SOURCE_LAYOUT, SPLITS, TARGET_LAYOUT, ToyConfig)
from .tree import (generate_sample, prepare_toy_tree, read_toy_meta, split_dirs,
                   validate_toy_tree)

__all__ = [
    'CLASSES', 'DOMAINS', 'GENERATOR_VERSION', 'IGNORE_INDEX', 'LAYOUTS', 'PALETTE',
    'SOURCE_LAYOUT', 'SPLITS', 'TARGET_LAYOUT', 'ToyConfig', 'class_pixel_counts',
    'generate_sample', 'prepare_toy_tree', 'rasterize_labels', 'read_toy_meta',
    'render_image', 'sample_layout', 'split_dirs', 'validate_toy_tree'
]
