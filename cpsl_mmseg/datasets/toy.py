"""The offline toy UDA domains as an mmseg dataset, and a checker for their tree.

Tree (written by ``tools/prepare_toy_data.py``)::

    ROOT/meta.json                                  classes, palette, settings, counts
    ROOT/{source,target}/images/{train,val}/NAME.png   RGB
    ROOT/{source,target}/labels/{train,val}/NAME.png   uint8 class ids, 255 = ignore

Target labels are on disk for evaluation only: a UDA config gives the target train
split no ``seg_map_path`` use (no ``LoadAnnotations``).
"""
import json
from pathlib import Path
from typing import Optional, Union

import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS
from PIL import Image

from .toy_domains import CLASSES, DOMAINS, IGNORE_INDEX, PALETTE, SPLITS, split_dirs

PathLike = Union[str, Path]


def read_toy_meta(root: PathLike) -> dict:
    """Loads ``ROOT/meta.json`` and checks its classes and palette against this module.

    Raises:
        ValueError: naming meta.json when it is missing, unreadable or describes other
            classes than :data:`~cpsl_mmseg.datasets.toy_domains.CLASSES`.
    """
    path = Path(root) / 'meta.json'
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f'{path} is missing: not a toy tree (run '
                         f'tools/prepare_toy_data.py --out {root})') from None
    except (OSError, ValueError) as err:
        raise ValueError(f'{path} is not readable JSON: {err}') from None
    if not isinstance(meta, dict):
        raise ValueError(f'{path} must hold a JSON object')
    if meta.get('classes') != list(CLASSES):
        raise ValueError(f'{path}: classes {meta.get("classes")} differ from the toy '
                         f'classes {list(CLASSES)}')
    if meta.get('palette') != [list(c) for c in PALETTE]:
        raise ValueError(f'{path}: palette differs from the toy palette {list(PALETTE)}')
    return meta


def _check_label(path: Path) -> tuple:
    """Checks one label PNG; returns its (height, width)."""
    with Image.open(path) as im:
        if im.mode != 'L':
            raise ValueError(f'{path}: label must be a single-channel uint8 PNG, '
                             f'got mode {im.mode}')
        label = np.asarray(im)
    values = np.unique(label)
    bad = values[(values >= len(CLASSES)) & (values != IGNORE_INDEX)]
    if bad.size:
        raise ValueError(f'{path}: class ids {bad.tolist()} out of range 0..'
                         f'{len(CLASSES) - 1} (255 = ignore)')
    return label.shape


def validate_toy_tree(root: PathLike) -> None:
    """Checks a toy tree: layout, image/label pairing, label values, sizes and counts.

    Raises:
        ValueError: naming the first offending file or folder: a missing or foreign
            meta.json, a missing split folder, an image without a label (or a label
            without an image), a label with class ids outside ``{0..C-1, 255}`` or not
            single-channel, an image that is not RGB or not of its label's size, or a
            split whose image count differs from meta.json.
    """
    root = Path(root)
    meta = read_toy_meta(root)
    for domain in DOMAINS:
        for split in SPLITS:
            img_dir, lbl_dir = split_dirs(root, domain, split)
            for folder in (img_dir, lbl_dir):
                if not folder.is_dir():
                    raise ValueError(f'{folder} is missing from the toy tree')
            images = {p.stem for p in img_dir.glob('*.png')}
            labels = {p.stem for p in lbl_dir.glob('*.png')}
            unlabelled, orphans = sorted(images - labels), sorted(labels - images)
            if unlabelled:
                name = unlabelled[0]
                raise ValueError(f'{img_dir / name}.png has no label {lbl_dir / name}.png')
            if orphans:
                name = orphans[0]
                raise ValueError(f'{lbl_dir / name}.png has no image {img_dir / name}.png')
            expected = meta.get('splits', {}).get(f'{domain}/{split}', {}).get('num_images')
            if expected != len(images):
                raise ValueError(f'{img_dir} holds {len(images)} images, '
                                 f'{root / "meta.json"} records {expected}')
            for name in sorted(images):
                shape = _check_label(lbl_dir / f'{name}.png')
                with Image.open(img_dir / f'{name}.png') as im:
                    if im.mode != 'RGB' or (im.height, im.width) != shape:
                        raise ValueError(
                            f'{img_dir / name}.png: expected an RGB image of its label\'s '
                            f'size {shape[1]}x{shape[0]}, got {im.mode} {im.width}x{im.height}')


@DATASETS.register_module()
class ToyUDADataset(BaseSegDataset):
    """One split of one toy domain, e.g. the target val split::

        dict(type='ToyUDADataset', data_root='data/toy',
             data_prefix=dict(img_path='target/images/val',
                              seg_map_path='target/labels/val'),
             pipeline=[...])

    Classes and palette are the module constants that ``meta.json`` also records; when
    ``data_root`` holds a ``meta.json`` it is checked against them.
    """

    METAINFO = dict(classes=CLASSES, palette=[list(c) for c in PALETTE])

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False, data_root: Optional[str] = None,
                 **kwargs) -> None:
        if data_root is not None and (Path(data_root) / 'meta.json').is_file():
            read_toy_meta(data_root)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, data_root=data_root,
                         **kwargs)
