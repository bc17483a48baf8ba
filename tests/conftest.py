"""Shared fixtures: the repository root and generated smoke data."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope='session')
def smoke_data(tmp_path_factory) -> Path:
    """The tiny shapes dataset of configs/_base_/datasets/smoke_shapes.py."""
    from cpsl_lab.smoke_shapes import write_smoke_dataset
    root = tmp_path_factory.mktemp('smoke_data')
    write_smoke_dataset(str(root), num_train=8, num_val=4, size=64, seed=0)
    return root


def _run_tool(args, cwd=REPO, timeout=600, env_extra=None):
    """Run a command with the test interpreter; fail with its output if it fails."""
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    env['PYTHONPATH'] = str(REPO) + os.pathsep + env.get('PYTHONPATH', '')
    if env_extra:
        env.update(env_extra)
    cmd = [sys.executable if a == 'python' else str(a) for a in args]
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f'command failed ({proc.returncode}): {" ".join(cmd)}\n'
            f'--- stdout ---\n{proc.stdout[-6000:]}\n'
            f'--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


@pytest.fixture(scope='session')
def run_tool():
    """``run_tool(['python', 'tools/train.py', ...])``: run, assert success, return
    the CompletedProcess (``python`` is replaced by the test interpreter)."""
    return _run_tool


@pytest.fixture(scope='session')
def smoke_uda_data(tmp_path_factory) -> dict:
    """Source/target smoke domains plus stride-4 soft pseudo labels for the target
    (a noisy softening of the true labels, standing in for a warm-up model)."""
    import cv2
    import numpy as np
    import torch

    from cpsl_mmseg.datasets.pseudo_label_io import (pseudo_label_path,
                                                     save_soft_pseudo_label)
    from cpsl_lab.smoke_shapes import write_smoke_dataset
    root = tmp_path_factory.mktemp('smoke_uda')
    source = write_smoke_dataset(str(root / 'source'), 8, 4, 64, 0, 'source')
    target = write_smoke_dataset(str(root / 'target'), 8, 4, 64, 1, 'target')
    pl_dir = root / 'target' / 'pseudo_labels'
    rng = np.random.default_rng(0)
    for label_file in sorted((root / 'target' / 'labels' / 'train').iterdir()):
        label = cv2.imread(str(label_file), cv2.IMREAD_UNCHANGED)[::4, ::4]
        logits = np.eye(3, dtype=np.float32)[label] * 2 + rng.normal(
            0, 1, label.shape + (3, )).astype(np.float32)
        probs = torch.from_numpy(logits).permute(2, 0, 1).softmax(0)
        save_soft_pseudo_label(
            pseudo_label_path(str(pl_dir), str(label_file)), probs)
    return dict(source=source, target=target, pseudo_labels=str(pl_dir))


SMOKE_CPSL = 'configs/smoke/cpsl_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'


def _uda_options(data: dict, config: str = SMOKE_CPSL) -> list:
    from mmengine.config import Config
    options = [
        f'train_dataloader.dataset.source.data_root={data["source"]}',
        f'train_dataloader.dataset.target.data_root={data["target"]}',
        f'val_dataloader.dataset.data_root={data["target"]}',
        f'test_dataloader.dataset.data_root={data["target"]}',
    ]
    pipeline = Config.fromfile(str(REPO / config)).train_dataloader.dataset.target.pipeline
    types = [step['type'] for step in pipeline]
    if 'LoadSoftPseudoLabel' in types:  # its position, found by type
        options.append(f'train_dataloader.dataset.target.pipeline.'
                       f'{types.index("LoadSoftPseudoLabel")}.pseudo_label_dir='
                       f'{data["pseudo_labels"]}')
    return options


@pytest.fixture(scope='session')
def uda_options():
    """``uda_options(smoke_uda_data[, config])``: --cfg-options pointing a smoke UDA
    config (default: the CPSL one) at the generated data."""
    return _uda_options


def _paired_batch(seed: int = 0, p_st=None, batch: int = 2, classes: int = 3,
                  size: int = 64):
    """A preprocessed paired batch as ``UDADataPreProcessor`` returns it: random
    source images and labels, target weak and strong views, and P_ST (random softmax
    maps unless ``p_st`` (B, C, H, W) is given)."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    g = torch.Generator().manual_seed(seed)
    if p_st is None:
        p_st = torch.rand(batch, classes, size, size, generator=g).softmax(1)
    source, target = [], []
    for i in range(batch):
        s = SegDataSample(gt_sem_seg=PixelData(
            data=torch.randint(0, classes, (1, size, size), generator=g)))
        t = SegDataSample()
        t.set_data(dict(soft_pseudo_label=PixelData(data=p_st[i])))
        for sample in (s, t):
            sample.set_metainfo(dict(img_shape=(size, size)))
        source.append(s)
        target.append(t)
    inputs = {k: torch.randn(batch, 3, size, size, generator=g)
              for k in ('source', 'target', 'target_strong')}
    return inputs, dict(source=source, target=target)


@pytest.fixture(scope='session')
def paired_batch():
    """``paired_batch(seed=0, p_st=None)``: a preprocessed paired batch (inputs dict,
    data-samples dict) of 2 images of 64x64 and 3 classes."""
    return _paired_batch
