"""Rare class sampling (DAFormer's RCS) as a UDADataset option: classes are drawn at
the configured temperature, images among those holding enough of the class, crops
re-drawn until they hold enough of it; the statistics come from a file (the
converters' or tools/compute_class_stats.py's) or are computed at build."""
import importlib.util
import json

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import cpsl_mmseg  # noqa: F401
from cpsl_mmseg.datasets import UDADataset
from cpsl_mmseg.datasets.class_stats import dataset_class_statistics
from cpsl_mmseg.datasets.rare_class_sampling import RareClassSampler

CLASSES = ('ground', 'common', 'rare', 'rarest')
SIZE = 16
# (images, pixels of the class per image): 'rarest' has one image above min_pixels=4
# and one below it
LAYOUT = {1: [40] * 6, 2: [20] * 3, 3: [6, 3]}


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


@pytest.fixture(scope='module')
def labelled(tmp_path_factory):
    """12 labelled 16x16 images of the LAYOUT above (the rest 'ground')."""
    root = tmp_path_factory.mktemp('rcs')
    labels = [np.zeros((SIZE, SIZE), np.uint8) for _ in range(12)]
    image = 0
    for class_id, counts in LAYOUT.items():
        for pixels in counts:
            labels[image].flat[:pixels] = class_id
            image += 1
    rng = np.random.default_rng(0)
    for i, label in enumerate(labels):
        _write(root / 'img' / f'{i:02d}.png', rng.integers(0, 255, (SIZE, SIZE, 3), np.uint8))
        _write(root / 'ann' / f'{i:02d}.png', label)
    return root, labels


def dataset_cfg(root, pipeline=None):
    return dict(type='BaseSegDataset', data_root=str(root), img_suffix='.png',
                seg_map_suffix='.png', metainfo=dict(classes=CLASSES),
                data_prefix=dict(img_path='img', seg_map_path='ann'),
                pipeline=pipeline or [dict(type='LoadImageFromFile'),
                                      dict(type='LoadAnnotations'),
                                      dict(type='PackSegInputs')])


def uda(root, **rcs):
    init_default_scope('mmseg')
    return UDADataset(dataset_cfg(root), dataset_cfg(root), rare_class_sampling=rcs)


def expected_probabilities(labels, temperature):
    """softmax((1 - f) / T) over the classes present, from the label arrays."""
    counts = np.bincount(np.concatenate([x.ravel() for x in labels]), minlength=4)
    share = counts / counts.sum()
    logits = (1 - share) / temperature
    probs = np.exp(logits - logits.max())
    return probs / probs.sum()


@pytest.mark.parametrize('temperature', [0.01, 0.05])
def test_classes_are_drawn_at_the_temperature(labelled, temperature):
    root, labels = labelled
    sampler = uda(root, class_temp=temperature, min_pixels=4).rare_class_sampler
    expected = expected_probabilities(labels, temperature)
    np.testing.assert_allclose(sampler.class_probs, expected, rtol=1e-9, atol=1e-12)
    rng = np.random.default_rng(0)
    n = 20000
    drawn = [sampler.draw(rng) for _ in range(n)]
    frequency = np.bincount([c for c, _ in drawn], minlength=4) / n
    tolerance = 4 * np.sqrt(expected * (1 - expected) / n) + 1e-3
    assert (np.abs(frequency - expected) <= tolerance).all(), (frequency, expected)
    for class_id, index in drawn:  # only images with more than min_pixels of the class
        assert (labels[index] == class_id).sum() > 4
    assert {i for c, i in drawn if c == 3} == {9}  # 6 pixels; the 3-pixel image never


class CropSequence:
    """A one-image dataset whose successive crops hold the given pixels of class 1."""

    metainfo = dict(classes=('a', 'b'))
    data_prefix = dict(seg_map_path='/labels')
    seg_map_suffix = '.png'

    def __init__(self, pixels):
        self.pixels, self.calls = list(pixels), 0

    def __len__(self):
        return 1

    def get_data_info(self, index):
        return dict(seg_map_path='/labels/x.png')

    def __getitem__(self, index):
        label = torch.zeros(1, 8, 8, dtype=torch.long)
        label.view(-1)[:self.pixels[self.calls]] = 1
        self.calls += 1
        return dict(data_samples=SegDataSample(gt_sem_seg=PixelData(data=label)))


@pytest.mark.parametrize('retries, calls, pixels', [(10, 3, 30), (1, 2, 20), (0, 1, 10)])
def test_crops_are_redrawn_until_the_class_has_enough_pixels(
        tmp_path, retries, calls, pixels):
    stats = tmp_path / 'class_stats.json'
    stats.write_text(json.dumps(dict(images={'x': {'0': 10, '1': 100}})))
    crops = CropSequence([10, 20, 30, 40])
    sampler = RareClassSampler(crops, class_temp=1.0, min_pixels=50, min_crop_ratio=0.5,
                               crop_retries=retries, stats_file=str(stats))
    sampler.draw = lambda rng: (1, 0)  # class 1 drawn, image 0
    sample = sampler.sample(np.random.default_rng(0))  # needs > 25 pixels of class 1
    assert crops.calls == calls
    assert int((sample['data_samples'].gt_sem_seg.data == 1).sum()) == pixels


def test_draws_are_reproducible_and_differ_between_ranks(labelled):
    root, _ = labelled
    dataset = uda(root, class_temp=0.05, min_pixels=4)
    paths = lambda item: item['source']['data_samples'].img_path  # noqa: E731

    def run(indices):
        np.random.seed(0)  # what mmengine seeds each rank's (and worker's) stream with
        return [paths(dataset[i]) for i in indices]

    assert run(range(8)) == run(range(8))
    assert run(range(0, 8, 2)) != run(range(1, 8, 2))  # rank 0 / rank 1 of 2


def test_statistics_from_the_tool_file_and_at_build_agree(labelled, tmp_path, repo_root):
    root, labels = labelled
    spec = importlib.util.spec_from_file_location(
        'compute_class_stats', repo_root / 'tools/compute_class_stats.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    config = tmp_path / 'config.py'
    config.write_text(f'default_scope = "mmseg"\ntrain_dataloader = dict(dataset=dict('
                      f'type="UDADataset", source={dataset_cfg(root)!r}, '
                      f'target={dataset_cfg(root)!r}))\n')
    out = tool.main([str(config), '--out', str(tmp_path / 'stats.json')])
    stats = json.loads(open(out).read())
    assert stats['images']['09'] == {'0': SIZE * SIZE - 6, '3': 6}
    assert stats['pixel_counts']['rarest'] == 9 and stats['image_counts']['common'] == 6
    from_file = uda(root, class_temp=0.05, min_pixels=4, stats_file=out)
    at_build = uda(root, class_temp=0.05, min_pixels=4)
    np.testing.assert_array_equal(from_file.rare_class_sampler.class_probs,
                                  at_build.rare_class_sampler.class_probs)
    assert dataset_class_statistics(at_build.source) == stats


def test_bad_settings_name_the_config_key(labelled, tmp_path):
    root, _ = labelled
    key = 'train_dataloader.dataset.rare_class_sampling'
    with pytest.raises(FileNotFoundError, match=f'{key}.stats_file'):
        uda(root, stats_file=str(tmp_path / 'missing.json'))
    partial = tmp_path / 'partial.json'
    partial.write_text(json.dumps(dict(images={'00': {'0': 256}})))
    with pytest.raises(ValueError, match=f'{key}.stats_file.*11 source images'):
        uda(root, stats_file=str(partial))
    with pytest.raises(TypeError, match=key):
        uda(root, temperature=0.01)
    with pytest.raises(ValueError, match=f'{key}.*lower min_pixels'):
        uda(root, min_pixels=10000)
