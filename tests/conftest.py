"""Shared fixtures: the repository root and generated smoke data."""
import copy
import os
import random
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from cpsl_mmseg.datasets.pseudo_label_io import pseudo_label_path, save_soft_pseudo_label

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def seeded_global_generators() -> None:
    """Every test starts from the same global random state, whichever tests the
    pytest-xdist worker ran before it: a statistical assertion then sees the same
    draws on every run instead of a different sample each time."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


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


# ------------------------------------------------- paper configs at tiny size
CHECKPOINT_KEYS = ('pretrained', 'warmup_checkpoint', 'teacher_checkpoint',
                   'student_checkpoint')
SHRINK = 8  # every image size and crop divided by this in the tiny paper runs


def walk(node, visit):
    """Call ``visit(dict)`` on every dict nested in ``node`` (lists included)."""
    if isinstance(node, dict):
        visit(node)
        for value in list(node.values()):
            walk(value, visit)
    elif isinstance(node, (list, tuple)):
        for value in node:
            walk(value, visit)


def without_downloads(node) -> None:
    """Drop every pretrained-weight and stage-checkpoint reference (no downloads)."""

    def visit(d):
        for key in CHECKPOINT_KEYS:
            if key in d:
                d[key] = None
        init_cfg = d.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            d['init_cfg'] = None

    walk(node, visit)


# ------------------------------------------------------------- tiny datasets
def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def _labels(rng, shape, num_classes):
    labels = rng.integers(0, num_classes, size=shape).astype(np.uint8)
    labels[rng.random(shape) < 0.1] = 255
    return labels


@pytest.fixture(scope='session')
def paper_data(tmp_path_factory):
    """GTA5, SYNTHIA (converted layouts) and Cityscapes trees, 1/8 of the real image
    sizes, plus 19- and 16-class P_ST maps at stride 8 for the Cityscapes train images."""
    root = tmp_path_factory.mktemp('paper_data')
    rng = np.random.default_rng(0)
    image = lambda h, w: rng.integers(0, 256, (h, w, 3), dtype=np.uint8)  # noqa: E731
    for stem in ('00001', '00002'):
        _write(root / 'gta5/images' / f'{stem}.png', image(132, 240))
        _write(root / 'gta5/labels' / f'{stem}_labelTrainIds.png',
               _labels(rng, (132, 240), 19))
    (root / 'gta5/train.txt').write_text('00001\n00002\n')
    for stem in ('0000000', '0000001'):
        _write(root / 'synthia/RGB' / f'{stem}.png', image(95, 160))
        _write(root / 'synthia/GT/LABELS' / f'{stem}_labelTrainIds.png',
               _labels(rng, (95, 160), 16))
    (root / 'synthia/train.txt').write_text('0000000\n0000001\n')
    for split in ('train', 'val'):
        for i in range(2):
            stem = f'aachen_00000{i}_000019'
            _write(root / f'cityscapes/leftImg8bit/{split}/aachen/{stem}_leftImg8bit.png',
                   image(128, 256))
            _write(root / f'cityscapes/gtFine/{split}/aachen/'
                   f'{stem}_gtFine_labelTrainIds.png', _labels(rng, (128, 256), 19))
    for num_classes in (19, 16):
        for img in sorted((root / 'cityscapes/leftImg8bit/train').rglob('*.png')):
            probs = torch.from_numpy(rng.random((num_classes, 16, 32))).softmax(0)
            save_soft_pseudo_label(
                pseudo_label_path(str(root / f'pst{num_classes}'), str(img)), probs)
    return root


def shrink(cfg: Config, data: Path, work_dir: Path) -> Config:
    """The paper config at 1/8 resolution, ResNet-18 / MiT widths of 8, on ``data``,
    for one iteration without validation or downloads."""
    roots = {'data/gta5': 'gta5', 'data/synthia': 'synthia',
             'data/cityscapes': 'cityscapes'}
    tiny_model = {
        'ResNet': dict(depth=18, base_channels=8, stem_channels=8),
        'ResNetV1c': dict(depth=18, base_channels=8, stem_channels=8),
        'DeepLabV2SEHead': dict(in_channels=64, channels=32, norm_cfg=dict(
            type='GN', num_groups=8, requires_grad=True)),
        'DepthwiseSeparableASPPHead': dict(in_channels=64, c1_in_channels=8,
                                           channels=32, c1_channels=16),
        'MixVisionTransformer': dict(embed_dims=8, num_layers=[1, 1, 1, 1]),
        'SegformerHead': dict(in_channels=[8, 16, 40, 64], channels=16),
        'OutputSpaceDiscriminator': dict(base_channels=4),
    }

    def small(size):
        return tuple(int(round(s / SHRINK)) for s in size)

    def visit(d):
        if d.get('data_root') in roots:
            d['data_root'] = str(data / roots[d['data_root']])
        kind = d.get('type')
        if kind == 'LoadSoftPseudoLabel':
            d['pseudo_label_dir'] = str(data / f'pst{d["num_classes"]}')
        elif kind in ('RandomResize', 'Resize'):
            d['scale'] = small(d['scale'])
        elif kind == 'RandomCrop':
            d['crop_size'] = small(d['crop_size'])
        elif kind in ('SegDataPreProcessor', 'UDADataPreProcessor') and d.get('size'):
            d['size'] = small(d['size'])
        elif kind in tiny_model:
            d.update(tiny_model[kind])
        elif kind == 'CPSL':
            d.update(memory_bank_images=8, samples_per_image=8)
        elif kind == 'UDADataset' and d.get('rare_class_sampling'):
            # counted at build on the tiny data, min_pixels at its resolution
            d['rare_class_sampling'] = dict(
                d['rare_class_sampling'], stats_file=None,
                min_pixels=d['rare_class_sampling']['min_pixels'] // SHRINK**2)
        elif kind == 'LabColorTransfer':
            d['reference_dir'] = str(data / 'cityscapes/leftImg8bit/train')
        if 'num_workers' in d:
            d.update(num_workers=0, persistent_workers=False)

    cfg = copy.deepcopy(cfg)
    without_downloads(cfg.model)
    walk(cfg._cfg_dict, visit)
    if cfg.model.get('feature_distance'):
        cfg.model.feature_distance.init_cfg = tiny_imagenet_backbone(
            cfg.model.segmentor.backbone, work_dir.parent / 'imagenet_backbone.pth')
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = 1
    cfg.train_cfg.val_interval = 1000
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=1000, save_best=None)
    cfg.randomness = dict(seed=0)
    return cfg


def tiny_imagenet_backbone(backbone_cfg: dict, path: Path) -> dict:
    """A stand-in for the ImageNet weights of a shrunk backbone (the frozen copy of the
    feature distance): its initial weights saved to ``path``, as a Pretrained init_cfg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(MODELS.build(copy.deepcopy(backbone_cfg)).state_dict(), path)
    return dict(type='Pretrained', checkpoint=str(path))


def tiny_simclr_file(cfg: Config, path: Path) -> str:
    """A student-initialisation file in torchvision names: the shrunk student backbone
    plus an ``fc`` classifier (as a SimCLR/ImageNet ResNet file has)."""
    backbone = MODELS.build(cfg.model.student.backbone)
    state = dict(backbone.state_dict())
    state['fc.weight'] = torch.zeros(10, 64)
    state['fc.bias'] = torch.zeros(10)
    torch.save(state, path)
    return str(path)


@pytest.fixture(scope='session')
def no_downloads():
    """``no_downloads(cfg_node)``: drop pretrained-weight and stage-checkpoint keys."""
    return without_downloads


@pytest.fixture(scope='session')
def shrink_paper_config():
    """``shrink_paper_config(cfg, data, work_dir)``: a paper config at 1/8 size."""
    return shrink


@pytest.fixture(scope='session')
def tiny_simclr():
    """``tiny_simclr(cfg, path)``: a student-initialisation file for a tiny KD config."""
    return tiny_simclr_file


# --- Running on several cores (pytest-xdist, ``-n N --dist loadgroup``) -------------
# Module fixtures that run a whole pipeline: every test that uses one is sent to the
# same worker, which builds it once.
SHARED_RUNS = ('finished', 'adversarial_on_slurm')
# xdist starts the groups with the most tests first; among single tests, those of
# these files (the longest) come first, so that the workers finish together.
LONGEST_FIRST = ('test_lab_pipeline_run.py', 'test_lab_paper_pipeline.py',
                 'test_pipeline_your_data.py', 'test_reliability_checkpoints.py')


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        shared = [name for name in SHARED_RUNS if name in item.fixturenames]
        if shared:
            item.add_marker(pytest.mark.xdist_group(f'{item.module.__name__}.{shared[0]}'))

    def rank(item) -> int:
        name = Path(str(item.fspath)).name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file is kept


@pytest.fixture(scope='session', autouse=True)
def xdist_groups_applied(request):
    """Under --dist loadgroup, every test errors out when the groups were not applied
    (they vanish silently with pytest >= 9.2 and pytest-xdist 3.8, and each shared
    pipeline run would then be built on both workers)."""
    if not getattr(request.config.option, 'loadgroup', False):
        return
    lost = [item.nodeid for item in request.session.items
            if item.get_closest_marker('xdist_group') and '@' not in item.nodeid]
    if lost:
        pytest.fail(f'pytest {pytest.__version__} with this pytest-xdist ignores '
                    f'xdist_group ({lost[0]} has no @group): install '
                    'requirements/tests.txt (pytest<9.2)', pytrace=False)
