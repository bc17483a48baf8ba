"""P_ST follows every geometric transform of its image, pixel for pixel; its storage
keeps small probabilities (log-domain codes) and reads the first format."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import TRANSFORMS

import cpsl_mmseg  # noqa: F401
from cpsl_mmseg.clustering.rectification import rectify_pseudo_labels
from cpsl_mmseg.datasets import pseudo_label_io
from cpsl_mmseg.datasets.pseudo_label_io import (is_valid_soft_pseudo_label,
                                                 load_soft_pseudo_label,
                                                 pseudo_label_path,
                                                 save_soft_pseudo_label)

NUM_CLASSES = 5
HEIGHT, WIDTH = 40, 56


def class_of(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x + 2 * y) % NUM_CLASSES


@pytest.fixture()
def coded_image(tmp_path):
    """An image whose pixels spell their own (x, y), and a one-hot P_ST whose class
    is a function of (x, y), stored at full resolution."""
    ys, xs = np.mgrid[:HEIGHT, :WIDTH]
    image = np.stack([xs, ys, np.zeros_like(xs)], -1).astype(np.uint8)
    img_path = str(tmp_path / 'img.png')
    cv2.imwrite(img_path, image)
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[class_of(xs, ys)]
    pl_dir = str(tmp_path / 'pl')
    save_soft_pseudo_label(
        pseudo_label_path(pl_dir, img_path),
        torch.from_numpy(one_hot).permute(2, 0, 1))
    return img_path, pl_dir


def run_pipeline(steps, img_path):
    init_default_scope('mmseg')
    results = dict(img_path=img_path, seg_map_path=None, reduce_zero_label=False,
                   seg_fields=[])
    for step in steps:
        results = TRANSFORMS.build(step)(results)
    return results


@pytest.mark.parametrize('geometry', [
    [dict(type='RandomCrop', crop_size=(24, 32))],
    [dict(type='RandomFlip', prob=1.0, direction='horizontal')],
    [dict(type='RandomFlip', prob=1.0, direction='vertical')],
    [dict(type='RandomCrop', crop_size=(20, 20)),
     dict(type='RandomFlip', prob=1.0, direction='horizontal')],
    [dict(type='Resize', scale=(112, 80), interpolation='nearest'),
     dict(type='RandomCrop', crop_size=(30, 50))],
])
def test_pseudo_label_moves_with_the_image(coded_image, geometry):
    img_path, pl_dir = coded_image
    packed = run_pipeline([
        dict(type='LoadImageFromFile'),
        dict(type='LoadSoftPseudoLabel', pseudo_label_dir=pl_dir,
             num_classes=NUM_CLASSES),
        *geometry,
        dict(type='StrongPhotometricView'),
        dict(type='PackUDATargetInputs'),
    ], img_path)
    image = packed['inputs'].numpy()  # (3, H', W'): channel 0 = x, 1 = y
    soft = packed['data_samples'].soft_pseudo_label.data
    assert soft.shape[-2:] == image.shape[-2:]
    expected = class_of(image[0].astype(int), image[1].astype(int))
    np.testing.assert_array_equal(soft.argmax(0).numpy(), expected)
    np.testing.assert_allclose(soft.sum(0).numpy(), 1.0, atol=1e-5)
    assert packed['inputs_strong'].shape == packed['inputs'].shape


def test_strided_map_is_sampled_bilinearly_at_source_positions(tmp_path):
    """A stride-4 map: the packed P_ST equals the bilinear upsampling of the stored
    map, flipped like the image."""
    image = np.random.default_rng(0).integers(0, 255, (32, 48, 3), np.uint8)
    img_path = str(tmp_path / 'a.png')
    cv2.imwrite(img_path, image)
    low = torch.rand(NUM_CLASSES, 8, 12)
    low = low / low.sum(0, keepdim=True)
    pl_dir = str(tmp_path / 'pl')
    save_soft_pseudo_label(pseudo_label_path(pl_dir, img_path), low)
    stored = torch.from_numpy(
        load_soft_pseudo_label(pseudo_label_path(pl_dir, img_path)))
    packed = run_pipeline([
        dict(type='LoadImageFromFile'),
        dict(type='LoadSoftPseudoLabel', pseudo_label_dir=pl_dir),
        dict(type='RandomFlip', prob=1.0, direction='horizontal'),
        dict(type='PackUDATargetInputs'),
    ], img_path)
    upsampled = torch.nn.functional.interpolate(
        stored[None], size=(32, 48), mode='bilinear', align_corners=False)[0]
    torch.testing.assert_close(
        packed['data_samples'].soft_pseudo_label.data,
        upsampled.flip(-1), atol=1e-5, rtol=0)


def test_padding_from_rotation_is_marked_empty(coded_image):
    img_path, pl_dir = coded_image
    packed = run_pipeline([
        dict(type='LoadImageFromFile'),
        dict(type='LoadSoftPseudoLabel', pseudo_label_dir=pl_dir),
        dict(type='RandomRotate', prob=1.0, degree=(30, 30), pad_val=0,
             seg_pad_val=255),
        dict(type='PackUDATargetInputs'),
    ], img_path)
    total = packed['data_samples'].soft_pseudo_label.data.sum(0)
    assert (total == 0).any(), 'rotated-in corners must carry no P_ST'
    assert torch.allclose(total[total > 0], torch.ones(()), atol=1e-5)


def test_missing_pseudo_label_names_the_file(tmp_path):
    img_path = str(tmp_path / 'lonely.png')
    cv2.imwrite(img_path, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match='lonely.npy'):
        run_pipeline([
            dict(type='LoadImageFromFile'),
            dict(type='LoadSoftPseudoLabel', pseudo_label_dir=str(tmp_path)),
        ], img_path)


def test_quantised_storage_is_compact_and_close(tmp_path):
    probs = torch.rand(19, 16, 32).mul(8).softmax(0)  # values from ~1e-4 to ~1
    path = str(tmp_path / 'x.npy')
    save_soft_pseudo_label(path, probs)
    assert np.load(path).nbytes == 19 * 16 * 32  # one byte per class and pixel
    restored = torch.from_numpy(load_soft_pseudo_label(path, 19))
    ratio = restored / probs  # 2.8 % per value, renormalisation adds at most as much
    assert ratio.min() > 0.94 and ratio.max() < 1.06
    with pytest.raises(ValueError, match='x.npy has 19 classes, expected 7'):
        load_soft_pseudo_label(path, 7)


def test_small_probabilities_survive_and_win_eq1(tmp_path):
    """A class the warm-up gave 1e-3 (the first format stored it as 0) reads back
    within a few % and wins Eq. 1 when P_SL favours it strongly enough."""
    probs = torch.tensor([0.969, 0.03, 1e-3, 1e-6, 0.0])[:, None, None].expand(5, 2, 2)
    path = str(tmp_path / 'small.npy')
    save_soft_pseudo_label(path, probs)
    restored = torch.from_numpy(load_soft_pseudo_label(path, 5))
    assert abs(restored[2, 0, 0] / 1e-3 - 1) < 0.06
    assert abs(restored[3, 0, 0] / 1e-6 - 1) < 0.06
    assert restored[4].eq(0).all()
    p_sl = torch.tensor([1e-4, 1e-4, 0.9997, 1e-4, 0.0])[:, None, None].expand(5, 2, 2)
    labels = rectify_pseudo_labels(p_sl[None], restored[None])
    assert labels.eq(2).all()


def test_first_format_files_are_read_and_others_refused(tmp_path):
    probs = torch.rand(4, 3, 5).softmax(0)
    first = tmp_path / 'first.npy'
    np.save(first, (probs * 255).round().to(torch.uint8).numpy())  # the first format
    restored = torch.from_numpy(load_soft_pseudo_label(str(first), 4))
    assert (restored - probs).abs().max() < 0.01
    other = tmp_path / 'float.npy'
    np.save(other, probs.numpy())
    with pytest.raises(ValueError, match='float.npy must be a'):
        load_soft_pseudo_label(str(other), 4)
    assert not is_valid_soft_pseudo_label(str(other), 4)


def test_an_interrupted_write_keeps_the_previous_map(tmp_path, monkeypatch):
    """A writer killed mid-file (here: an exception after half the bytes) leaves the
    map that was there intact and no temporary file behind."""
    path = tmp_path / 'map.npy'
    save_soft_pseudo_label(str(path), torch.rand(3, 4, 4).softmax(0))
    before = path.read_bytes()

    def half_then_fail(f, codes):
        f.write(codes.tobytes()[:codes.nbytes // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(pseudo_label_io.np, 'save', half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        save_soft_pseudo_label(str(path), torch.rand(3, 4, 4).softmax(0))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ['map.npy']
