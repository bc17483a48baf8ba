"""The bad-input and fault catalogue: every case a new user met (issue table), each
failing with an error that names the file or config key at fault, before the first
iteration where it can be checked, with nothing already written changed."""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cpsl_mmseg.datasets.pseudo_label_io import LOG_DTYPE

REPO = Path(__file__).resolve().parents[1]
CPSL = 'configs/smoke/cpsl_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'


def run(args, env=None, expect_ok=False) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, OMP_NUM_THREADS='1',
                    PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / 'tests')]))
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=600)
    if expect_ok and proc.returncode != 0:
        raise AssertionError(f'{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


@pytest.fixture
def data(smoke_uda_data, tmp_path) -> dict:
    """A private copy of the smoke UDA data, free to corrupt."""
    root = Path(smoke_uda_data['source']).parent
    copy = tmp_path / 'data'
    shutil.copytree(root, copy)
    return {key: str(copy / Path(value).relative_to(root))
            for key, value in smoke_uda_data.items()}


def train(work: Path, options, *args, config=CPSL, **kwargs):
    return run(['tools/train.py', config, '--work-dir', work, *args, '--cfg-options',
                *options, 'train_cfg.max_iters=6', 'train_cfg.val_interval=100'],
               **kwargs)


def source_label(data: dict, index: int = 0) -> Path:
    return sorted((Path(data['source']) / 'labels' / 'train').glob('*.png'))[index]


def test_label_id_out_of_range_names_the_file(data, tmp_path, uda_options):
    label = source_label(data)
    values = cv2.imread(str(label), cv2.IMREAD_UNCHANGED)
    values[5:9, 5:9] = 7  # a 3-class dataset
    cv2.imwrite(str(label), values)
    proc = train(tmp_path / 'w', uda_options(data))
    assert proc.returncode != 0
    assert label.name in proc.stderr and 'class ids [7]' in proc.stderr, \
        proc.stderr[-2000:]
    assert not list((tmp_path / 'w').glob('*.pth'))


@pytest.mark.parametrize('size', [(32, 64), (32, 32)], ids=['other-aspect', 'smaller'])
def test_label_of_another_size_names_the_file(size, data, tmp_path, uda_options):
    label = source_label(data, 1)
    values = cv2.imread(str(label), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(label), cv2.resize(values, size[::-1], interpolation=cv2.INTER_NEAREST))
    proc = train(tmp_path / 'w', uda_options(data))
    assert proc.returncode != 0
    assert label.name in proc.stderr and 'label of' in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize('stream', ['source', 'target'])
def test_empty_split_names_the_dataset_key(stream, data, tmp_path, uda_options):
    empty = tmp_path / 'empty'
    (empty / 'images' / 'train').mkdir(parents=True)
    (empty / 'labels' / 'train').mkdir(parents=True)
    options = uda_options(data) + [f'train_dataloader.dataset.{stream}.data_root={empty}']
    proc = train(tmp_path / 'w', options)
    assert proc.returncode != 0
    assert f'train_dataloader.dataset.{stream}' in proc.stderr
    assert 'no samples' in proc.stderr and str(empty) in proc.stderr


def test_head_classes_and_dataset_classes_must_agree(data, tmp_path, uda_options):
    options = uda_options(data) + ['model.segmentor.decode_head.num_classes=19']
    proc = train(tmp_path / 'w', options)
    assert proc.returncode != 0
    assert 'model.segmentor.decode_head.num_classes=19' in proc.stderr
    assert '3 classes' in proc.stderr
    assert 'Iter(train)' not in proc.stdout + proc.stderr  # before the first iteration


def test_cpsl_without_its_statistics_hook_is_refused(data, tmp_path, uda_options):
    config = tmp_path / 'no_hook.py'
    config.write_text(f"_base_ = ['{REPO / CPSL}']\n"
                      "custom_hooks = [dict(type='MeanTeacherHook')]\n")
    proc = train(tmp_path / 'w', uda_options(data), config=config)
    assert proc.returncode != 0
    assert 'OnlineClusteringHook' in proc.stderr and 'custom_hooks' in proc.stderr


def test_resume_with_a_model_that_does_not_fit_is_refused(data, tmp_path, uda_options):
    work = tmp_path / 'w'
    options = uda_options(data) + ['default_hooks.checkpoint.interval=2']
    run(['tools/train.py', CPSL, '--work-dir', work, '--cfg-options', *options,
         'train_cfg.max_iters=2'], expect_ok=True)
    saved = (work / 'iter_2.pth').read_bytes()
    proc = run(['tools/train.py', CPSL, '--work-dir', work, '--resume', '--cfg-options',
                *options, 'train_cfg.max_iters=4', 'model.memory_bank_images=8'])
    assert proc.returncode != 0
    assert 'memory_bank.features: checkpoint (256, 32), model (128, 32)' in proc.stderr
    assert 'iter_2.pth' in proc.stderr
    assert (work / 'iter_2.pth').read_bytes() == saved
    assert not (work / 'iter_4.pth').exists()


# ---------------------------------------------------------------- P_ST writer
@pytest.fixture
def warmups(tmp_path, repo_root):
    """Two different smoke segmentor checkpoints."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import cpsl_mmseg  # noqa: F401
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(repo_root / CPSL))
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = MODELS.build(cfg.model.segmentor)
        paths.append(tmp_path / f'warmup{seed}.pth')
        torch.save({'state_dict': model.state_dict()}, paths[-1])
    return paths


def generate(data, checkpoint, out, uda_options, *extra, env=None, expect_ok=True):
    return run(['tools/generate_pseudo_labels.py', CPSL, checkpoint, '--out', out,
                *extra, '--cfg-options', *uda_options(data)], env=env, expect_ok=expect_ok)


def maps(out: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(out.glob('*.npy'))}


def test_p_st_of_another_checkpoint_is_refused_unless_overwritten(
        data, tmp_path, warmups, uda_options):
    out = tmp_path / 'pst'
    generate(data, warmups[0], out, uda_options)
    first, meta = maps(out), (out / 'pseudo_labels_meta.json').read_text()
    assert len(first) == 8 and 'warmup0.pth' in meta
    proc = generate(data, warmups[1], out, uda_options, expect_ok=False)
    assert proc.returncode != 0
    assert str(out) in proc.stderr and 'warmup0.pth' in proc.stderr
    assert '--overwrite' in proc.stderr
    assert maps(out) == first and (out / 'pseudo_labels_meta.json').read_text() == meta
    generate(data, warmups[1], out, uda_options, '--overwrite')
    assert 'warmup1.pth' in (out / 'pseudo_labels_meta.json').read_text()
    assert maps(out).keys() == first.keys() and maps(out) != first


def test_killed_writer_restarts_cleanly_with_readable_maps(data, tmp_path, warmups,
                                                           uda_options):
    out = tmp_path / 'pst'
    proc = generate(data, warmups[0], out, uda_options, expect_ok=False,
                    env=dict(FAULT_KILL_IN_NPSAVE='4'))
    assert proc.returncode == -signal.SIGKILL
    assert len(list(out.glob('*.npy'))) == 3 and list(out.glob('*.tmp'))
    generate(data, warmups[0], out, uda_options)
    assert len(list(out.glob('*.npy'))) == 8 and not list(out.glob('*.tmp'))
    umask = os.umask(0)
    os.umask(umask)
    for path in out.glob('*.npy'):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path
        assert np.load(path).dtype == LOG_DTYPE
