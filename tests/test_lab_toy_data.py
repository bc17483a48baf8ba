"""The offline toy UDA domains: generator, on-disk tree, checker, dataset, CLI."""
import importlib.util
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cpsl_lab import ToyUDADataset
from cpsl_lab.toy_world import (CLASSES, DOMAINS, IGNORE_INDEX, LAYOUTS, PALETTE,
                                SPLITS, ToyConfig, class_pixel_counts, generate_sample,
                                prepare_toy_tree, sample_layout, settings,
                                validate_toy_tree)
from cpsl_lab.toy_world import materials

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(width=64, height=32, source_train=3, source_val=2, target_train=3,
             target_val=2)


def tree_bytes(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def small_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('toy') / 'toy'
    assert prepare_toy_tree(root, ToyConfig(**SMALL)) == 'generated'
    return root


def test_same_seed_gives_identical_bytes_other_seed_differs(tmp_path, small_tree):
    again = tmp_path / 'again'
    prepare_toy_tree(again, ToyConfig(**SMALL))
    assert tree_bytes(again) == tree_bytes(small_tree)

    other = tmp_path / 'other'
    prepare_toy_tree(other, ToyConfig(seed=1, **SMALL))
    a, b = tree_bytes(small_tree), tree_bytes(other)
    assert a.keys() == b.keys()
    pngs = [k for k in a if k.endswith('.png')]
    assert all(a[k] != b[k] for k in pngs if '/images/' in k)


def test_enlarging_a_split_keeps_its_images(small_tree):
    bigger = ToyConfig(**dict(SMALL, target_val=5))
    image, label = generate_sample(bigger, 'target', 'val', 1)
    on_disk = small_tree / 'target' / 'images' / 'val' / 'target_val_00001.png'
    assert np.array_equal(np.asarray(Image.open(on_disk)), image)
    on_disk = small_tree / 'target' / 'labels' / 'val' / 'target_val_00001.png'
    assert np.array_equal(np.asarray(Image.open(on_disk)), label)


def test_layout_and_meta(small_tree):
    config = ToyConfig(**SMALL)
    expected = {'meta.json'}
    for domain in DOMAINS:
        for split in SPLITS:
            for kind in ('images', 'labels'):
                expected |= {f'{domain}/{kind}/{split}/{domain}_{split}_{i:05d}.png'
                             for i in range(config.count(domain, split))}
    assert set(tree_bytes(small_tree)) == expected

    meta = json.loads((small_tree / 'meta.json').read_text())
    assert meta['classes'] == list(CLASSES) and len(CLASSES) >= 6
    assert meta['palette'] == [list(c) for c in PALETTE]
    assert meta['ignore_index'] == IGNORE_INDEX
    assert meta['settings'] == dict(
        generator_version=settings.GENERATOR_VERSION, seed=0, width=64, height=32,
        source_train=3, source_val=2, target_train=3, target_val=2)
    assert set(meta['splits']) == {f'{d}/{s}' for d in DOMAINS for s in SPLITS}
    for key, stats in meta['splits'].items():
        domain, split = key.split('/')
        n = config.count(domain, split)
        assert stats['num_images'] == n
        counts = np.zeros(len(CLASSES), np.int64)
        for p in (small_tree / domain / 'labels' / split).glob('*.png'):
            counts += class_pixel_counts(np.asarray(Image.open(p)))
        assert stats['pixel_counts'] == counts.tolist()
        assert sum(stats['pixel_counts']) + stats['ignored_pixels'] == n * 64 * 32


def test_images_and_labels_are_well_formed(small_tree):
    for p in small_tree.rglob('labels/*/*.png'):
        with Image.open(p) as im:
            assert im.mode == 'L' and im.size == (64, 32)
            values = set(np.unique(np.asarray(im)).tolist())
        assert values <= set(range(len(CLASSES))) | {IGNORE_INDEX}, p
    for p in small_tree.rglob('images/*/*.png'):
        with Image.open(p) as im:
            assert im.mode == 'RGB' and im.size == (64, 32)
    validate_toy_tree(small_tree)


def test_default_class_distribution_is_long_tailed():
    """Cityscapes-like long tail on 100 + 100 default images: max/min share >= 15
    (about 21 on a whole tree, Cityscapes-like in shape if shorter; fewer images
    scatter the rarest class's share)."""
    config = ToyConfig()
    totals = np.zeros(len(CLASSES))
    for domain in DOMAINS:
        for i in range(100):
            totals += class_pixel_counts(generate_sample(config, domain, 'train', i)[1])
    share = totals / totals.sum()
    assert share.min() > 0, 'every class occurs'
    assert share.max() / share.min() >= 15
    assert share[CLASSES.index('road')] == share.max()
    # Thin and small classes exist: poles and signs are rare and poles are narrow.
    assert share[CLASSES.index('pole')] < 0.03
    assert share[CLASSES.index('traffic sign')] == share.min() < 0.02


def test_signs_are_rare_but_large_enough_to_learn():
    """Generator v3: sign plates 0.5-0.7 camera heights wide on poles at most 14 away, a
    median of >= 8 px across (v2: 6 px, which no target oracle learned)."""
    config = ToyConfig()
    widths = []
    for i in range(40):
        sign = generate_sample(config, 'target', 'train', i)[1] == settings.SIGN
        count, _, stats, _ = cv2.connectedComponentsWithStats(sign.astype(np.uint8))
        widths += stats[1:count, cv2.CC_STAT_WIDTH].tolist()
    assert len(widths) >= 10
    assert np.median(widths) >= 8


def test_fence_and_person_look_like_no_other_class_in_the_target():
    """Generator v3: no region of a photograph paints both a fence (or person) part and
    a part of another class (v2 painted fences with the tree-bark wood and the car
    glass's night sky, person legs with the road gravel and clothes with the foliage's
    flower, so the target oracle could not tell them apart)."""
    part_class = {}
    for domain in DOMAINS:
        for i in range(20):
            rng = np.random.default_rng(i)
            for shape in sample_layout(rng, LAYOUTS[domain], 64, 128):
                part_class[shape.part] = shape.label

    def regions(parts) -> list:
        return [(m.image, m.box) for part in parts for m in materials.PHOTO_MATERIALS[part]]

    def overlap(a, b) -> bool:
        (image_a, (ax0, ay0, ax1, ay1)), (image_b, (bx0, by0, bx1, by1)) = a, b
        return image_a == image_b and ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1

    for cls in (settings.FENCE, settings.PERSON):
        own = regions(part for part, label in part_class.items() if label == cls)
        others = regions(part for part, label in part_class.items() if label != cls)
        assert own
        shared = [(a, b) for a in own for b in others if overlap(a, b)]
        assert not shared, (CLASSES[cls], shared)


def test_poles_are_thin_and_tall():
    """Horizontal runs of pole pixels are a few px wide (median <= 3); poles span many rows."""
    config = ToyConfig()
    runs, tallest = [], 0
    for i in range(10):
        pole = generate_sample(config, 'source', 'train', i)[1] == settings.POLE
        edges = np.diff(np.pad(pole.astype(np.int8), ((0, 0), (1, 1))), axis=1)
        for row in edges:
            runs += (np.flatnonzero(row == -1) - np.flatnonzero(row == 1)).tolist()
        tallest = max(tallest, int(pole.any(axis=1).sum()))
    assert runs and np.median(runs) <= 3
    assert tallest >= 20


def test_target_is_textured_source_is_flat():
    """The appearance gap: pixel-to-pixel variation inside the road, per domain."""
    config = ToyConfig()
    texture = {}
    for domain in DOMAINS:
        diffs = []
        for i in range(8):
            image, label = generate_sample(config, domain, 'val', i)
            both = (label[:, 1:] == settings.ROAD) & (label[:, :-1] == settings.ROAD)
            step = np.abs(np.diff(image.astype(np.float64), axis=1)).mean(axis=2)
            diffs.append(np.median(step[both]))
        texture[domain] = float(np.mean(diffs))
    assert texture['source'] < 1.0 < 4.0 < texture['target']


def test_missing_photo_package_is_named(monkeypatch):
    materials.load_photo_bank.cache_clear()
    real = importlib.util.find_spec
    monkeypatch.setattr(materials.importlib.util, 'find_spec',
                        lambda name: None if name == 'sklearn' else real(name))
    try:
        with pytest.raises(ModuleNotFoundError, match='scikit-learn'):
            generate_sample(ToyConfig(**SMALL), 'target', 'train', 0)
    finally:
        monkeypatch.undo()
        materials.load_photo_bank.cache_clear()


def test_prepare_skips_refuses_and_forces(tmp_path):
    root = tmp_path / 'toy'
    config = ToyConfig(**dict(SMALL, source_train=1, source_val=1, target_train=1,
                              target_val=1))
    assert prepare_toy_tree(root, config) == 'generated'
    (root / 'notes.txt').write_text('mine')
    before = tree_bytes(root)
    stamp = (root / 'meta.json').stat().st_mtime_ns
    assert prepare_toy_tree(root, config) == 'skipped'
    assert (root / 'meta.json').stat().st_mtime_ns == stamp

    other = ToyConfig(**dict(SMALL, seed=3, source_train=1, source_val=1, target_train=1,
                             target_val=1))
    with pytest.raises(FileExistsError, match='meta.json.*seed'):
        prepare_toy_tree(root, other)
    assert tree_bytes(root) == before
    assert prepare_toy_tree(root, other, force=True) == 'generated'
    assert json.loads((root / 'meta.json').read_text())['settings']['seed'] == 3
    assert (root / 'notes.txt').read_text() == 'mine'
    assert not (tmp_path / '.toy.partial').exists()

    # A tree written by another generator version is refused like other settings.
    meta = json.loads((root / 'meta.json').read_text())
    meta['settings']['generator_version'] = settings.GENERATOR_VERSION - 1
    (root / 'meta.json').write_text(json.dumps(meta))
    older = tree_bytes(root)
    with pytest.raises(FileExistsError, match='differing: generator_version'):
        prepare_toy_tree(root, other)
    assert tree_bytes(root) == older
    assert prepare_toy_tree(root, other, force=True) == 'generated'

    # An incomplete tree of the same settings is regenerated; a foreign one refused.
    (root / 'target' / 'labels' / 'val' / 'target_val_00000.png').unlink()
    assert prepare_toy_tree(root, other) == 'generated'
    (root / 'meta.json').unlink()
    with pytest.raises(FileExistsError, match='source'):
        prepare_toy_tree(root, other)


def corrupt_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_validate_names_label_with_out_of_range_class(tmp_path, small_tree):
    root = corrupt_copy(small_tree, tmp_path / 'bad')
    bad = root / 'source' / 'labels' / 'train' / 'source_train_00001.png'
    label = np.asarray(Image.open(bad)).copy()
    label[0, 0] = len(CLASSES)
    Image.fromarray(label, 'L').save(bad)
    with pytest.raises(ValueError, match=f'{bad}.*out of range'):
        validate_toy_tree(root)


def test_validate_names_image_without_label(tmp_path, small_tree):
    root = corrupt_copy(small_tree, tmp_path / 'bad')
    (root / 'source' / 'labels' / 'train' / 'source_train_00002.png').unlink()
    image = root / 'source' / 'images' / 'train' / 'source_train_00002.png'
    with pytest.raises(ValueError, match=f'{image} has no label'):
        validate_toy_tree(root)


def test_validate_names_missing_or_foreign_meta(tmp_path, small_tree):
    root = corrupt_copy(small_tree, tmp_path / 'bad')
    meta = json.loads((root / 'meta.json').read_text())
    meta['classes'] = meta['classes'][:-1]
    (root / 'meta.json').write_text(json.dumps(meta))
    with pytest.raises(ValueError, match='meta.json: classes'):
        validate_toy_tree(root)
    (root / 'meta.json').unlink()
    with pytest.raises(ValueError, match='meta.json is missing'):
        validate_toy_tree(root)


def test_dataset_loads_through_mmseg_pipeline(small_tree):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    import cpsl_lab  # noqa: F401  (registers ToyUDADataset)
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='ToyUDADataset', data_root=str(small_tree),
        data_prefix=dict(img_path='source/images/train', seg_map_path='source/labels/train'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                  dict(type='PackSegInputs')]))
    assert isinstance(dataset, ToyUDADataset)
    assert len(dataset) == SMALL['source_train']
    assert dataset.metainfo['classes'] == CLASSES
    sample = dataset[1]
    assert tuple(sample['inputs'].shape) == (3, 32, 64)
    gt = sample['data_samples'].gt_sem_seg.data.numpy()[0]
    label = np.asarray(Image.open(small_tree / 'source/labels/train/source_train_00001.png'))
    assert np.array_equal(gt, label)
    image = np.asarray(Image.open(small_tree / 'source/images/train/source_train_00001.png'))
    assert np.array_equal(sample['inputs'].numpy().transpose(1, 2, 0), image[..., ::-1])


def test_cli_generates_then_skips(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('prepare_toy_data',
                                                  REPO / 'projects' / 'cpsl_lab' / 'tools' / 'prepare_toy_data.py')
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    args = ['--out', str(tmp_path / 'toy'), '--width', '32', '--height', '16',
            '--source-train', '2', '--source-val', '1', '--target-train', '2',
            '--target-val', '1']
    assert cli.main(args) == 0
    assert 'wrote 6 images' in capsys.readouterr().out
    assert cli.main(args) == 0
    assert 'nothing to do' in capsys.readouterr().out
    assert cli.main(args[:-1] + ['3']) == 1
    assert 'pass --force' in capsys.readouterr().err
