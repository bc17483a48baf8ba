"""Writing a toy tree: one generator per image, splits written through a staging folder,
``meta.json`` last; and the checks that a tree on disk is one."""
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np
from PIL import Image

from .layout import sample_layout
from .rasterize import class_pixel_counts, rasterize_labels
from .render import render_image
from .settings import CLASSES, DOMAINS, IGNORE_INDEX, LAYOUTS, PALETTE, SPLITS, ToyConfig

PathLike = Union[str, Path]


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


def read_toy_meta(root: PathLike) -> dict:
    """Loads ``ROOT/meta.json`` and checks its classes and palette against this module.

    Raises:
        ValueError: naming meta.json when it is missing, unreadable or describes other
            classes than :data:`~cpsl_lab.toy_world.settings.CLASSES`.
    """
    path = Path(root) / 'meta.json'
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f'{path} is missing: not a toy tree (run '
                         f'projects/cpsl_lab/tools/prepare_toy_data.py --out {root})') from None
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
