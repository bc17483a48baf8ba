"""GTA5 / SYNTHIA converters on fixture trees in the published layouts, and the
datasets loading the converted trees through mmseg pipelines."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

import cpsl_mmseg  # noqa: F401  (registers the datasets)
from cpsl_mmseg.datasets import label_conversion

REPO = Path(__file__).resolve().parents[1]
W, H = 24, 16  # fixture image size (width, height)

# The mappings as the issue and reference-notes.md state them (source id -> train id).
GTA5_TRAIN_ID = dict(zip([7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
                          31, 32, 33], range(19)))
SYNTHIA_TRAIN_ID = dict(zip([3, 4, 2, 21, 5, 7, 15, 9, 6, 1, 10, 17, 8, 19, 12, 11],
                            range(16)))


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(
        f'convert_{name}', REPO / 'tools' / 'convert_datasets' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _expected(ids, mapping):
    out = np.full(ids.shape, 255, np.uint8)
    for source, train in mapping.items():
        out[ids == source] = train
    return out


def _label_ids(rng, candidates, h=H, w=W):
    return rng.choice(np.asarray(candidates), size=(h, w))


def _save_rgb(path, rng, w=W, h=H):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)


def _truncated_png(path, rng):
    _save_rgb(path, rng)
    path.write_bytes(path.read_bytes()[:60])


# ----------------------------------------------------------------------------- GTA5

GTA5_IDS = list(GTA5_TRAIN_ID) + [0, 1, 4, 6, 9, 14, 15, 16, 18, 29, 30, 34]
GTA5_GOOD, GTA5_SMALL, GTA5_LARGE = ['00001', '00002', '00003'], '00004', '00005'
GTA5_BAD_IMAGE, GTA5_BAD_LABEL, GTA5_NO_LABEL = '00006', '00007', '00008'


def _save_palette_png(path, ids):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(ids.astype(np.uint8))  # 'L'; putpalette makes it 'P'
    img.putpalette([(i * 37 + c * 101) % 256 for i in range(256) for c in range(3)])
    img.save(path)


def make_gta5(root, seed=0):
    """GTA5 layout: images/XXXXX.png, labels/XXXXX.png (palette index = label id).
    Two labels differ in size from their image, one image is truncated, one label is
    not a PNG, one image has no label. Returns {stem: expected train ids (H, W)}."""
    rng = np.random.default_rng(seed)
    expected = {}
    for stem in GTA5_GOOD:
        ids = _label_ids(rng, GTA5_IDS)
        _save_rgb(root / 'images' / f'{stem}.png', rng)
        _save_palette_png(root / 'labels' / f'{stem}.png', ids)
        expected[stem] = _expected(ids, GTA5_TRAIN_ID)
    small = _label_ids(rng, GTA5_IDS, H // 2, W // 2)  # upsampled x2 by nearest neighbour
    _save_rgb(root / 'images' / f'{GTA5_SMALL}.png', rng)
    _save_palette_png(root / 'labels' / f'{GTA5_SMALL}.png', small)
    expected[GTA5_SMALL] = _expected(small.repeat(2, 0).repeat(2, 1), GTA5_TRAIN_ID)
    large = _label_ids(rng, [7, 26])  # downsampled: only road / car survive
    large = np.pad(large, ((0, 4), (0, 8)), constant_values=26)
    _save_rgb(root / 'images' / f'{GTA5_LARGE}.png', rng)
    _save_palette_png(root / 'labels' / f'{GTA5_LARGE}.png', large)
    expected[GTA5_LARGE] = None  # checked by size and values only
    _truncated_png(root / 'images' / f'{GTA5_BAD_IMAGE}.png', rng)
    _save_palette_png(root / 'labels' / f'{GTA5_BAD_IMAGE}.png', _label_ids(rng, GTA5_IDS))
    _save_rgb(root / 'images' / f'{GTA5_BAD_LABEL}.png', rng)
    (root / 'labels' / f'{GTA5_BAD_LABEL}.png').write_bytes(b'not a png at all')
    _save_rgb(root / 'images' / f'{GTA5_NO_LABEL}.png', rng)
    return expected


def _read(path):
    with Image.open(path) as img:
        assert img.mode == 'L'
        return np.asarray(img)


def _output(root, stem, label_dir='labels'):
    return root / label_dir / f'{stem}_labelTrainIds.png'


@pytest.fixture(scope='module')
def gta5_tool():
    return _load_tool('gta5')


@pytest.fixture(scope='module')
def synthia_tool():
    return _load_tool('synthia')


def test_gta5_converter_train_ids_report_and_stats(tmp_path, gta5_tool):
    expected = make_gta5(tmp_path)
    report = gta5_tool.main([str(tmp_path), '--nproc', '1'])

    usable = sorted(expected)
    for stem, train_ids in expected.items():
        out = _read(_output(tmp_path, stem))
        assert out.shape == (H, W)
        if train_ids is not None:
            np.testing.assert_array_equal(out, train_ids, err_msg=stem)
    assert set(np.unique(_read(_output(tmp_path, GTA5_LARGE)))) <= {0, 13}
    for stem in (GTA5_BAD_IMAGE, GTA5_BAD_LABEL, GTA5_NO_LABEL):
        assert not _output(tmp_path, stem).exists()
    assert not list(tmp_path.rglob('*.partial'))

    on_disk = json.loads((tmp_path / 'conversion_report.json').read_text())
    assert on_disk == report
    assert (report['converted'], report['reused'], report['num_pairs']) == (5, 0, 8)
    skipped = {s['stem']: s for s in report['skipped']}
    assert set(skipped) == {GTA5_BAD_IMAGE, GTA5_BAD_LABEL, GTA5_NO_LABEL}
    assert skipped[GTA5_BAD_IMAGE]['file'].endswith(f'images/{GTA5_BAD_IMAGE}.png')
    assert skipped[GTA5_BAD_LABEL]['file'].endswith(f'labels/{GTA5_BAD_LABEL}.png')
    assert 'FileNotFoundError' in skipped[GTA5_NO_LABEL]['reason']
    resized = {r['stem']: r for r in report['resized']}
    assert resized == {
        GTA5_SMALL: dict(stem=GTA5_SMALL, image_size=[W, H], label_size=[W // 2, H // 2]),
        GTA5_LARGE: dict(stem=GTA5_LARGE, image_size=[W, H], label_size=[W + 8, H + 4])}

    assert (tmp_path / 'train.txt').read_text().split() == usable
    stats = json.loads((tmp_path / 'class_stats.json').read_text())
    outputs = {stem: _read(_output(tmp_path, stem)) for stem in usable}
    everything = np.concatenate([o.ravel() for o in outputs.values()])
    classes = stats['classes']
    assert len(classes) == 19 and classes[0] == 'road' and classes[18] == 'bicycle'
    assert stats['num_images'] == 5
    assert [stats['pixel_counts'][c] for c in classes] == [
        int((everything == k).sum()) for k in range(19)]
    assert stats['ignore_pixels'] == int((everything == 255).sum())
    assert sum(stats['pixel_share'].values()) == pytest.approx(1.0)
    for stem, out in outputs.items():
        present = {str(k): int((out == k).sum()) for k in range(19) if (out == k).any()}
        assert stats['images'][stem] == present
    assert stats['image_counts']['car'] == sum((o == 13).any() for o in outputs.values())


def test_gta5_converter_resumes_and_repairs(tmp_path, gta5_tool):
    expected = make_gta5(tmp_path)
    gta5_tool.main([str(tmp_path), '--nproc', '1'])
    outputs = {stem: _output(tmp_path, stem) for stem in expected}
    before = {stem: (p.stat().st_ino, p.stat().st_mtime_ns) for stem, p in outputs.items()}

    half = outputs['00001'].read_bytes()
    outputs['00001'].write_bytes(half[:len(half) // 2])  # a half-written output
    outputs['00002'].unlink()
    Image.fromarray(np.zeros((H, W), np.uint8)).save(outputs['00003'])  # stale content...
    stale = tmp_path / 'labels' / '.00009_labelTrainIds.png.x1y2.partial'
    stale.write_bytes(b'left by a killed run')

    report = gta5_tool.main([str(tmp_path), '--nproc', '1'])
    # ...but a complete valid-looking output is trusted, as resume promises.
    assert (report['converted'], report['reused']) == (2, 3)
    assert report['partial_files_removed'] == 1 and not stale.exists()
    np.testing.assert_array_equal(_read(outputs['00001']), expected['00001'])
    np.testing.assert_array_equal(_read(outputs['00002']), expected['00002'])
    for stem in (GTA5_SMALL, GTA5_LARGE):  # untouched, and still reported as resized
        assert (outputs[stem].stat().st_ino, outputs[stem].stat().st_mtime_ns) == before[stem]
    assert {r['stem'] for r in report['resized']} == {GTA5_SMALL, GTA5_LARGE}
    assert len(report['skipped']) == 3

    # An output of the wrong size or with values outside 0..18/255 is redone.
    Image.fromarray(np.zeros((H, W + 1), np.uint8)).save(outputs['00003'])
    Image.fromarray(np.full((H, W), 19, np.uint8)).save(outputs[GTA5_SMALL])
    report = gta5_tool.main([str(tmp_path), '--nproc', '1'])
    assert (report['converted'], report['reused']) == (2, 3)
    np.testing.assert_array_equal(_read(outputs['00003']), expected['00003'])
    np.testing.assert_array_equal(_read(outputs[GTA5_SMALL]), expected[GTA5_SMALL])


def test_interrupted_write_leaves_no_output(tmp_path, gta5_tool, monkeypatch):
    make_gta5(tmp_path)

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(label_conversion.os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        gta5_tool.main([str(tmp_path), '--nproc', '1'])
    monkeypatch.undo()
    assert not list((tmp_path / 'labels').glob('*_labelTrainIds.png'))
    assert not list(tmp_path.rglob('*.partial'))
    assert gta5_tool.main([str(tmp_path), '--nproc', '1'])['converted'] == 5


def test_gta5_dataset_loads_converted_tree(tmp_path, gta5_tool):
    expected = make_gta5(tmp_path)
    gta5_tool.main([str(tmp_path), '--nproc', '1'])
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='GTA5Dataset', data_root=str(tmp_path), ann_file='train.txt',
        data_prefix=dict(img_path='images', seg_map_path='labels'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                  dict(type='PackSegInputs')]))
    assert len(dataset) == 5
    assert dataset.metainfo['classes'][13] == 'car' and len(dataset.metainfo['classes']) == 19
    for i, stem in enumerate(sorted(expected)):
        sample = dataset[i]
        assert tuple(sample['inputs'].shape) == (3, H, W)
        gt = sample['data_samples'].gt_sem_seg.data[0].numpy()
        assert sample['data_samples'].img_path.endswith(f'images/{stem}.png')
        if expected[stem] is not None:
            np.testing.assert_array_equal(gt, expected[stem])
    # the converter's class_stats.json is what the dataset counts itself (rare class
    # sampling reads either; tools/compute_class_stats.py writes the latter)
    from cpsl_mmseg.datasets.class_stats import dataset_class_statistics
    written = json.loads((tmp_path / 'class_stats.json').read_text())
    assert dataset_class_statistics(dataset) == written


# -------------------------------------------------------------------------- SYNTHIA

SYNTHIA_IDS = list(SYNTHIA_TRAIN_ID) + [0, 13, 14, 16, 18, 20, 22, 300, 1027]
SYNTHIA_GOOD = ['0000000', '0000001', '0000002']
SYNTHIA_BAD_LABEL = '0000003'


def _save_synthia_label(path, class_ids, rng):
    """16-bit 3-channel PNG: class id in the file's first (R) channel, an instance id
    (values that collide with class ids) in G, zeros in B; cv2 writes BGR order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = np.zeros(class_ids.shape + (3,), np.uint16)
    bgr[..., 2] = class_ids
    bgr[..., 1] = rng.integers(0, 25, class_ids.shape)
    assert cv2.imwrite(str(path), bgr)


def make_synthia(root, seed=1):
    """SYNTHIA-RAND-CITYSCAPES layout: RGB/XXXXXXX.png, GT/LABELS/XXXXXXX.png; one
    label truncated. Returns {stem: expected train ids (H, W)}."""
    rng = np.random.default_rng(seed)
    expected = {}
    for stem in SYNTHIA_GOOD:
        ids = _label_ids(rng, SYNTHIA_IDS)
        _save_rgb(root / 'RGB' / f'{stem}.png', rng)
        _save_synthia_label(root / 'GT' / 'LABELS' / f'{stem}.png', ids, rng)
        expected[stem] = _expected(ids, SYNTHIA_TRAIN_ID)
    _save_rgb(root / 'RGB' / f'{SYNTHIA_BAD_LABEL}.png', rng)
    bad = root / 'GT' / 'LABELS' / f'{SYNTHIA_BAD_LABEL}.png'
    _save_synthia_label(bad, _label_ids(rng, SYNTHIA_IDS), rng)
    bad.write_bytes(bad.read_bytes()[:70])
    return expected


def test_synthia_reader_uses_the_class_channel(tmp_path, synthia_tool):
    ids = np.array([[3, 4, 21, 1027], [11, 0, 300, 1]], np.uint16)
    _save_synthia_label(tmp_path / 'x.png', ids, np.random.default_rng(0))
    np.testing.assert_array_equal(synthia_tool.read_synthia_train_ids(str(tmp_path / 'x.png')),
                                  [[0, 1, 3, 255], [15, 255, 255, 9]])


def test_synthia_converter_parallel_cli(tmp_path):
    expected = make_synthia(tmp_path)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'convert_datasets' / 'synthia.py'),
         str(tmp_path), '--nproc', '2'],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '3 converted' in proc.stdout and '1 skipped' in proc.stdout
    for stem, train_ids in expected.items():
        np.testing.assert_array_equal(_read(_output(tmp_path, stem, 'GT/LABELS')), train_ids)
    report = json.loads((tmp_path / 'conversion_report.json').read_text())
    assert [s['stem'] for s in report['skipped']] == [SYNTHIA_BAD_LABEL]
    assert report['skipped'][0]['file'].endswith(f'GT/LABELS/{SYNTHIA_BAD_LABEL}.png')
    assert report['resized'] == []
    assert (tmp_path / 'train.txt').read_text().split() == SYNTHIA_GOOD
    stats = json.loads((tmp_path / 'class_stats.json').read_text())
    assert stats['classes'][15] == 'bicycle' and len(stats['classes']) == 16
    assert stats['pixel_counts']['wall'] == sum(int((t == 3).sum()) for t in expected.values())


def test_synthia_dataset_loads_converted_tree(tmp_path, synthia_tool):
    expected = make_synthia(tmp_path)
    assert synthia_tool.main([str(tmp_path), '--nproc', '1'])['converted'] == 3
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='SynthiaDataset', data_root=str(tmp_path), ann_file='train.txt',
        data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                  dict(type='PackSegInputs')]))
    assert len(dataset) == 3 and len(dataset.metainfo['classes']) == 16
    assert dataset.metainfo['palette'][13] == [0, 60, 100]  # bus, as in Cityscapes
    for i, stem in enumerate(SYNTHIA_GOOD):
        gt = dataset[i]['data_samples'].gt_sem_seg.data[0].numpy()
        np.testing.assert_array_equal(gt, expected[stem])
