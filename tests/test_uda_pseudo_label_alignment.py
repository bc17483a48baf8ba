"""P_ST follows every geometric transform of its image, pixel for pixel."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import TRANSFORMS

import cpsl_mmseg  # noqa: F401
from cpsl_mmseg.datasets.pseudo_label_io import (load_soft_pseudo_label,
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
    probs = torch.rand(19, 16, 32).softmax(0)
    path = str(tmp_path / 'x.npy')
    save_soft_pseudo_label(path, probs)
    assert np.load(path).nbytes == 19 * 16 * 32  # one byte per class and pixel
    restored = torch.from_numpy(load_soft_pseudo_label(path, 19))
    assert (restored - probs).abs().max() < 0.02
    with pytest.raises(ValueError, match='x.npy has 19 classes, expected 7'):
        load_soft_pseudo_label(path, 7)
