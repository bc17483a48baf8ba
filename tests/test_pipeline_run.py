"""tools/run_pipeline.py end to end on a tiny toy tree (every stage, resumability,
errors that name the bad file without touching finished stages)."""
import json
import os
from pathlib import Path

import cv2
import pytest
import torch

from cpsl_mmseg.datasets.toy_domains import ToyConfig, prepare_toy_tree

CONFIG = 'configs/toy/cpsl_deeplabv3plus_r18-tiny_toy-128x64.py'
TINY = [
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1'
]
STAGE_DIRS = ('data', 'warmup', 'calibration', 'pseudo_labels', 'prototypes',
              'self_training', 'cpsl', 'analysis')


@pytest.fixture(scope='module')
def tiny_toy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('toy') / 'toy'
    prepare_toy_tree(root, ToyConfig(source_train=6, source_val=2,
                                     target_train=6, target_val=4))
    return root


@pytest.fixture(scope='module')
def finished(tiny_toy, tmp_path_factory, run_tool):
    work = tmp_path_factory.mktemp('pipeline') / 'run'
    proc = run_tool(['python', 'tools/run_pipeline.py', CONFIG, '--work-dir',
                     work, '--data-root', tiny_toy, '--seed', '1',
                     '--cfg-options', *TINY], timeout=900)
    return work, proc


def test_every_stage_runs_and_the_summary_is_well_formed(finished):
    work, proc = finished
    for stage in STAGE_DIRS:
        assert (work / stage / 'stage.json').is_file(), stage
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['seed'] == 1
    for stage in ('warmup', 'calibration', 'self_training', 'cpsl'):
        record = summary['stages'][stage]
        assert 0.0 <= record['mIoU'] <= 100.0
        assert len(record['per_class_iou']) == 10
        assert record['wall_time_s'] > 0
    for stage in ('self_training', 'cpsl'):
        stats = summary['pseudo_labels'][stage]
        assert stats['kl_gt_to_pseudo'] >= 0
        assert abs(sum(stats['pseudo_distribution']) - 1) < 1e-6
    table = (work / 'summary.md').read_text()
    assert '| road |' in table and 'CPSL' in table and 'self-training' in table
    assert 'source-only + target BN' in table
    for figure in ('class_distribution.png', 'training_curves.png',
                   'analysis/cpsl/qualitative.png'):
        assert (work / figure).stat().st_size > 1000, figure
    assert len(list((work / 'pseudo_labels').glob('*.npy'))) == 6


def test_calibration_changes_only_batch_norm_statistics(finished):
    work, _ = finished
    warmup = torch.load(
        (work / 'warmup' / 'last_checkpoint').read_text().strip(),
        map_location='cpu', weights_only=False)['state_dict']
    calibrated = torch.load(work / 'calibration' / 'calibrated.pth',
                            map_location='cpu', weights_only=False)
    assert calibrated['state_dict'].keys() == warmup.keys()
    changed = {k for k, v in calibrated['state_dict'].items()
               if not torch.equal(v, warmup[k])}
    assert changed and all(k.endswith(('running_mean', 'running_var',
                                       'num_batches_tracked'))
                           for k in changed)
    # the adaptation stages start from the calibrated network
    for log in ('pseudo_labels/generate_pseudo_labels.log',
                'self_training/train.log', 'cpsl/train.log'):
        command = (work / log).read_text().splitlines()[0]
        assert 'calibration/calibrated.pth' in command, log


def test_prototype_statistics_are_reproducible(finished, tmp_path, run_tool):
    work, _ = finished
    log = work / 'prototypes' / 'compute_prototypes.log'
    command = log.read_text().splitlines()[0][2:].split()
    assert 'randomness.seed=1' in command
    command[command.index('--out') + 1] = str(tmp_path / 'again.pth')
    run_tool(['python', *command[1:]])
    first = torch.load(work / 'prototypes' / 'statistics.pth')
    again = torch.load(tmp_path / 'again.pth')
    assert torch.equal(first['prototypes'], again['prototypes'])
    assert torch.equal(first['class_counts'], again['class_counts'])


def test_rerun_skips_completed_stages(finished, tiny_toy, run_tool):
    work, _ = finished
    ckpt = Path((work / 'cpsl' / 'last_checkpoint').read_text().strip())
    before = ckpt.stat().st_mtime_ns
    proc = run_tool(['python', 'tools/run_pipeline.py', CONFIG, '--work-dir',
                     work, '--data-root', tiny_toy, '--seed', '1',
                     '--cfg-options', *TINY])
    for stage in STAGE_DIRS:
        assert f'[pipeline] {stage}: complete, skipped' in proc.stdout
    assert ckpt.stat().st_mtime_ns == before


def test_missing_pseudo_label_stops_naming_the_file(finished, tiny_toy,
                                                    run_tool):
    work, _ = finished
    victim = sorted((work / 'pseudo_labels').glob('*.npy'))[0]
    saved = victim.read_bytes()
    warmup_ckpt = Path((work / 'warmup' / 'last_checkpoint').read_text().strip())
    produced = [warmup_ckpt, work / 'prototypes' / 'statistics.pth',
                work / 'prototypes' / 'stage.json']
    mtimes = [p.stat().st_mtime_ns for p in produced]
    victim.unlink()
    try:
        with pytest.raises(AssertionError, match=victim.name):
            run_tool(['python', 'tools/run_pipeline.py', CONFIG, '--work-dir',
                      work, '--data-root', tiny_toy, '--redo', 'prototypes',
                      '--cfg-options', *TINY])
        # the failed redo wrote nothing over what earlier runs produced
        assert [p.stat().st_mtime_ns for p in produced] == mtimes
    finally:
        victim.write_bytes(saved)


def _corrupt_copy(tiny_toy: Path, tmp_path: Path) -> Path:
    import shutil
    root = tmp_path / 'toy'
    shutil.copytree(tiny_toy, root)
    return root


def test_label_out_of_range_is_named(tiny_toy, tmp_path, run_tool):
    root = _corrupt_copy(tiny_toy, tmp_path)
    label = sorted((root / 'source' / 'labels' / 'train').glob('*.png'))[0]
    bad = cv2.imread(str(label), cv2.IMREAD_UNCHANGED)
    bad[0, 0] = 42
    cv2.imwrite(str(label), bad)
    with pytest.raises(AssertionError, match=label.name):
        run_tool(['python', 'tools/run_pipeline.py', CONFIG, '--work-dir',
                  tmp_path / 'w', '--data-root', root, '--cfg-options', *TINY])
    assert not (tmp_path / 'w' / 'warmup').exists()


def test_source_image_without_label_is_named(tiny_toy, tmp_path, run_tool):
    root = _corrupt_copy(tiny_toy, tmp_path)
    label = sorted((root / 'source' / 'labels' / 'train').glob('*.png'))[-1]
    os.remove(label)
    with pytest.raises(AssertionError, match=label.stem):
        run_tool(['python', 'tools/run_pipeline.py', CONFIG, '--work-dir',
                  tmp_path / 'w', '--data-root', root, '--cfg-options', *TINY])
    assert not (tmp_path / 'w' / 'warmup').exists()


def test_adversarial_warmup_hands_its_segmentor_on(tiny_toy, tmp_path,
                                                   run_tool):
    work = tmp_path / 'adv'
    run_tool(['python', 'tools/run_pipeline.py', CONFIG, '--work-dir', work,
              '--data-root', tiny_toy, '--warmup', 'adversarial',
              '--cfg-options', *TINY], timeout=900)
    full = torch.load(work / 'warmup' / 'iter_2.pth', map_location='cpu',
                      weights_only=False)['state_dict']
    assert any(k.startswith('discriminator.') for k in full)
    plain = torch.load(work / 'warmup' / 'segmentor.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    assert plain.keys() == {k[len('segmentor.'):] for k in full
                            if k.startswith('segmentor.')}
    calibrate = (work / 'calibration' / 'calibrate_batch_norm.log'
                 ).read_text().splitlines()[0]
    assert 'warmup/segmentor.pth' in calibrate
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['warmup'] == 'adversarial'
    assert '| adversarial warm-up |' in (work / 'summary.md').read_text()


def test_rerun_with_another_warmup_is_refused(finished, tiny_toy, run_tool):
    work, _ = finished
    before = (work / 'warmup' / 'stage.json').read_bytes()
    with pytest.raises(AssertionError, match='--redo warmup'):
        run_tool(['python', 'tools/run_pipeline.py', CONFIG, '--work-dir',
                  work, '--data-root', tiny_toy, '--warmup', 'adversarial',
                  '--cfg-options', *TINY])
    assert (work / 'warmup' / 'stage.json').read_bytes() == before
