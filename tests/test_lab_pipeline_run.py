"""tools/run_pipeline.py end to end on the lab's toy pipeline and a tiny toy tree:
every stage, its config file, resumability, and errors that name the bad file without
touching finished stages."""
import json
import os
import shutil
from pathlib import Path

import cv2
import pytest
import torch
from mmengine.config import Config

from cpsl_lab.toy_world import ToyConfig, prepare_toy_tree

CONFIG = 'projects/cpsl_lab/configs/toy/cpsl_deeplabv3plus_r18-tiny_toy-128x64.py'
PRETRAINED_CONFIG = ('projects/cpsl_lab/configs/toy/'
                     'cpsl_deeplabv3plus_efficientnet-lite0_toy-128x64.py')
TOOL = 'tools/run_pipeline.py'
TINY = [
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1'
]
STAGE_DIRS = ('data', 'warmup', 'calibration', 'pseudo_labels', 'prototypes',
              'self_training', 'cpsl', 'analysis')
TRAINED = ('warmup', 'self_training', 'cpsl')


@pytest.fixture(scope='module')
def tiny_toy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('toy') / 'toy'
    prepare_toy_tree(root, ToyConfig(source_train=6, source_val=2,
                                     target_train=6, target_val=4))
    return root


def pipeline(run_tool, work, data_root, *extra, config=CONFIG, **kwargs):
    return run_tool(['python', TOOL, config, '--work-dir', work, '--data-root', data_root,
                     *extra, '--cfg-options', *TINY], **kwargs)


# The README main job's family (ImageNet-pretrained EfficientNet-Lite0) through every
# stage, with the oracle and CPSL on the MIC spine (every DAFormer / MIC ingredient on).
FINISHED = ('--seed', '1', '--with', 'oracle', 'cpsl_mic')


def rerun_finished(run_tool, work, data_root, *extra, **kwargs):
    """The finished run's command again (same config and stages), plus ``extra``."""
    return pipeline(run_tool, work, data_root, *FINISHED, *extra,
                    config=PRETRAINED_CONFIG, **kwargs)


@pytest.fixture(scope='module')
def finished(tiny_toy, tmp_path_factory, run_tool):
    work = tmp_path_factory.mktemp('pipeline') / 'run'
    proc = rerun_finished(run_tool, work, tiny_toy, timeout=900)
    return work, proc


@pytest.fixture(scope='module')
def adversarial_on_slurm(tiny_toy, tmp_path_factory, run_tool):
    """The from-scratch family up to P_ST with the adversarial warm-up, every tool
    launched by --launcher slurm through a stand-in srun (tests/fake_slurm/srun) that
    starts the tasks on this machine with SLURM's variables: (work dir, srun log)."""
    root = tmp_path_factory.mktemp('slurm')
    log = root / 'srun.log'
    env = dict(PATH=f'{Path(__file__).parent / "fake_slurm"}{os.pathsep}'
                    f'{os.environ["PATH"]}', FAKE_SRUN_LOG=str(log))
    work = root / 'run'
    pipeline(run_tool, work, tiny_toy, '--warmup', 'adversarial', '--until',
             'pseudo_labels', '--launcher', 'slurm', '--partition', 'debug', '--gpus',
             '2', '--gpus-per-node', '2', env_extra=env, timeout=900)
    return work, log


def state_dict(path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def last_checkpoint(train_dir: Path) -> Path:
    """The checkpoint ``last_checkpoint`` names (relative to its work dir)."""
    return train_dir / (train_dir / 'last_checkpoint').read_text().strip()


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
    # the CPSL stage's class balance (its 2 iterations never fill the bank)
    balance = summary['stages']['cpsl']['class_balance']
    assert len(balance['bank_over_prior']) == 10 and not balance['bank_full']
    assert '## Class balance of `cpsl`' in table and 'class_balance' not in \
        summary['stages']['self_training']
    for figure in ('class_distribution.png', 'training_curves.png',
                   'analysis/cpsl/qualitative.png'):
        assert (work / figure).stat().st_size > 1000, figure
    assert len(list((work / 'pseudo_labels').glob('*.npy'))) == 6


def test_the_baseline_is_the_mean_teacher_by_type(finished):
    work, _ = finished
    baseline = Config.fromfile(str(work / 'self_training' / 'config.py'))
    assert baseline.model.type == 'MeanTeacherSelfTraining'
    assert [h.type for h in baseline.custom_hooks] == ['MeanTeacherHook']
    weights = state_dict(last_checkpoint(work / 'self_training' / 'train'))
    assert not any(k.startswith(('self_labeling_head.', 'memory_bank.',
                                 'class_prior.')) for k in weights)
    cpsl = Config.fromfile(str(work / 'cpsl' / 'config.py'))
    assert cpsl.model.type == 'CPSL'


def test_calibration_changes_only_batch_norm_statistics(finished):
    work, _ = finished
    warmup = state_dict(last_checkpoint(work / 'warmup' / 'train'))
    calibrated = state_dict(work / 'calibration' / 'calibrated.pth')
    assert calibrated.keys() == warmup.keys()
    changed = {k for k, v in calibrated.items() if not torch.equal(v, warmup[k])}
    assert changed and all(k.endswith(('running_mean', 'running_var',
                                       'num_batches_tracked')) for k in changed)
    # the adaptation stages start from the calibrated network
    command = (work / 'pseudo_labels' / 'generate_pseudo_labels.log').read_text()
    assert 'calibration/calibrated.pth' in command.splitlines()[0]
    for stage in ('prototypes', 'self_training', 'cpsl'):
        cfg = Config.fromfile(str(work / stage / 'config.py'))
        assert cfg.model.warmup_checkpoint == str(work / 'calibration' /
                                                  'calibrated.pth'), stage


def test_stage_configs_hold_their_inputs_by_name(finished, tiny_toy):
    work, _ = finished
    cfg = Config.fromfile(str(work / 'cpsl' / 'config.py'))
    assert cfg.work_dir == str(work / 'cpsl' / 'train')
    assert cfg.randomness.seed == 1
    assert cfg.train_cfg.max_iters == 2  # the --cfg-options are part of it
    (loader, ) = [t for t in cfg.train_dataloader.dataset.target.pipeline
                  if t.type == 'LoadSoftPseudoLabel']
    assert loader.pseudo_label_dir == str(work / 'pseudo_labels')
    (hook, ) = [h for h in cfg.custom_hooks if h.type == 'OnlineClusteringHook']
    assert hook.init_file == str(work / 'prototypes' / 'statistics.pth')
    assert cfg.train_dataloader.dataset.source.data_root == str(tiny_toy)
    text = (work / 'cpsl' / 'config.py').read_text()
    assert 'python tools/train.py' in text and '_base_' in text


def test_each_training_stage_reruns_from_its_config_file(finished, tmp_path, run_tool):
    """``tools/train.py DIR/<stage>/config.py`` rebuilds the stage's model and data
    as the pipeline ran them: the same seed gives the same final tensors."""
    work, _ = finished
    for stage in TRAINED:
        again = tmp_path / stage
        run_tool(['python', 'tools/train.py', work / stage / 'config.py',
                  '--work-dir', again])
        ran = state_dict(last_checkpoint(work / stage / 'train'))
        rerun = state_dict(last_checkpoint(again))
        assert ran.keys() == rerun.keys(), stage
        for key, value in ran.items():
            assert torch.equal(value, rerun[key]), (stage, key)


def test_offline_stages_rerun_from_their_config_files(finished, tmp_path, run_tool):
    work, _ = finished
    calibrate = (work / 'calibration' / 'calibrate_batch_norm.log').read_text()
    command = calibrate.splitlines()[0][2:].split()
    module = command.index('-m') + 1
    assert command[module] == 'cpsl_mmseg.tools.calibrate_batch_norm'
    assert command[module + 1] == str(work / 'calibration' / 'config.py')
    command[command.index('--out') + 1] = str(tmp_path / 'calibrated.pth')
    run_tool(['python', *command[module - 1:]])
    first = state_dict(work / 'calibration' / 'calibrated.pth')
    again = state_dict(tmp_path / 'calibrated.pth')
    assert all(torch.equal(first[k], again[k]) for k in first)

    run_tool(['python', 'tools/generate_pseudo_labels.py',
              work / 'pseudo_labels' / 'config.py', work / 'calibration' / 'calibrated.pth',
              '--out', tmp_path / 'p_st'])
    first = {p.name: p.read_bytes() for p in (work / 'pseudo_labels').glob('*.npy')}
    assert {p.name: p.read_bytes() for p in (tmp_path / 'p_st').glob('*.npy')} == first

    run_tool(['python', 'tools/compute_prototypes.py', work / 'prototypes' / 'config.py',
              '--out', tmp_path / 'again.pth'])
    first = torch.load(work / 'prototypes' / 'statistics.pth')
    again = torch.load(tmp_path / 'again.pth')
    assert torch.equal(first['prototypes'], again['prototypes'])
    assert torch.equal(first['class_counts'], again['class_counts'])


def test_p_st_directory_found_by_type_after_another_transform(finished, tmp_path,
                                                              repo_root):
    """A CPSL config whose target pipeline has an extra step before the P_ST loader
    (and its hooks in another order) still gets its inputs."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from cpsl_mmseg.pipeline import Pipeline
    from cpsl_mmseg.pipeline.settings import stage_settings
    init_default_scope('mmseg')
    work, _ = finished
    variant = tmp_path / 'variant.py'
    variant.write_text(
        f"_base_ = ['{repo_root / PRETRAINED_CONFIG}']\n"
        "target_pipeline = [\n"
        "    dict(type='LoadImageFromFile'),\n"
        "    dict(type='RandomGrayscale', prob=0.0),\n"
        "    dict(type='LoadSoftPseudoLabel', pseudo_label_dir='nowhere',\n"
        "         num_classes=10),\n"
        "    dict(type='PackUDATargetInputs'),\n"
        "]\n"
        "train_dataloader = dict(dataset=dict(target=dict(pipeline=target_pipeline)))\n"
        "custom_hooks = [dict(type='OnlineClusteringHook'),\n"
        "                dict(type='MeanTeacherHook')]\n")
    run = tmp_path / 'run'
    run.mkdir()
    for stage in ('calibration', 'pseudo_labels', 'prototypes'):  # finished inputs
        (run / stage).symlink_to(work / stage)
    data_root = json.loads((work / 'data' / 'stage.json').read_text())['data_root']
    pipe = Pipeline(str(variant), str(run), data_root=data_root)
    settings = stage_settings(pipe, pipe.specs['cpsl'], pipe.config)
    cfg = Config.fromfile(pipe.stage_config('cpsl', pipe.config, settings, training=True))
    steps = cfg.train_dataloader.dataset.target.pipeline
    assert [s.type for s in steps][:3] == ['LoadImageFromFile', 'RandomGrayscale',
                                           'LoadSoftPseudoLabel']
    assert steps[2].pseudo_label_dir == str(work / 'pseudo_labels')
    assert cfg.custom_hooks[0].init_file == str(work / 'prototypes' / 'statistics.pth')
    sample = DATASETS.build(cfg.train_dataloader.dataset)[0]['target']
    assert sample['data_samples'].soft_pseudo_label.data.shape[0] == 10


def test_rerun_skips_completed_stages(finished, tiny_toy, run_tool):
    work, _ = finished
    ckpt = last_checkpoint(work / 'cpsl' / 'train')
    before = ckpt.stat().st_mtime_ns
    proc = rerun_finished(run_tool, work, tiny_toy)
    for stage in STAGE_DIRS + ('oracle', 'cpsl_mic'):
        assert f'[pipeline] {stage}: complete, skipped' in proc.stdout
    assert ckpt.stat().st_mtime_ns == before


def test_redo_p_st_overwrites_the_maps_and_keeps_what_did_not_change(
        finished, tiny_toy, run_tool):
    work, _ = finished
    out = work / 'pseudo_labels'
    meta = out / 'pseudo_labels_meta.json'
    maps = {p.name: p.read_bytes() for p in out.glob('*.npy')}
    before = meta.stat().st_mtime_ns
    proc = rerun_finished(run_tool, work, tiny_toy, '--redo', 'pseudo_labels')
    command = (out / 'generate_pseudo_labels.log').read_text().splitlines()[0]
    assert '--overwrite' in command
    assert meta.stat().st_mtime_ns != before
    assert {p.name: p.read_bytes() for p in out.glob('*.npy')} == maps
    for stage in ('prototypes', 'self_training', 'cpsl'):  # the same maps again
        assert f'[pipeline] {stage}: complete, skipped' in proc.stdout


def test_a_warmup_with_other_results_makes_later_stages_run_again(
        finished, tiny_toy, tmp_path, run_tool):
    work = tmp_path / 'copy'
    shutil.copytree(finished[0], work, symlinks=True)
    digest = json.loads((work / 'pseudo_labels' / 'pseudo_labels_meta.json').read_text())
    proc = pipeline(run_tool, work, tiny_toy, '--seed', '2', '--redo', 'warmup',
                    '--until', 'self_training', config=PRETRAINED_CONFIG, timeout=900)
    for stage in ('calibration', 'pseudo_labels', 'prototypes', 'self_training'):
        assert f'[pipeline] {stage}: inputs changed since it ran' in proc.stdout, stage
    command = (work / 'pseudo_labels' / 'generate_pseudo_labels.log').read_text()
    assert '--overwrite' in command.splitlines()[0]
    now = json.loads((work / 'pseudo_labels' / 'pseudo_labels_meta.json').read_text())
    assert now['checkpoint_sha256'] != digest['checkpoint_sha256']


def test_missing_pseudo_label_stops_naming_the_file(finished, tiny_toy, run_tool):
    work, _ = finished
    victim = sorted((work / 'pseudo_labels').glob('*.npy'))[0]
    saved = victim.read_bytes()
    warmup_ckpt = last_checkpoint(work / 'warmup' / 'train')
    produced = [warmup_ckpt, work / 'prototypes' / 'statistics.pth',
                work / 'prototypes' / 'stage.json']
    mtimes = [p.stat().st_mtime_ns for p in produced]
    victim.unlink()
    try:
        with pytest.raises(AssertionError, match=victim.name):
            rerun_finished(run_tool, work, tiny_toy, '--redo', 'prototypes')
        # the failed redo wrote nothing over what earlier runs produced
        assert [p.stat().st_mtime_ns for p in produced] == mtimes
    finally:
        victim.write_bytes(saved)


def _corrupt_copy(tiny_toy: Path, tmp_path: Path) -> Path:
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
        pipeline(run_tool, tmp_path / 'w', root)
    assert not (tmp_path / 'w' / 'warmup').exists()


def test_source_image_without_label_is_named(tiny_toy, tmp_path, run_tool):
    root = _corrupt_copy(tiny_toy, tmp_path)
    label = sorted((root / 'source' / 'labels' / 'train').glob('*.png'))[-1]
    os.remove(label)
    with pytest.raises(AssertionError, match=label.stem):
        pipeline(run_tool, tmp_path / 'w', root)
    assert not (tmp_path / 'w' / 'warmup').exists()


def test_adversarial_warmup_hands_its_segmentor_on(adversarial_on_slurm):
    work, _ = adversarial_on_slurm
    full = state_dict(work / 'warmup' / 'train' / 'iter_2.pth')
    assert any(k.startswith('discriminator.') for k in full)
    plain = state_dict(work / 'warmup' / 'segmentor.pth')
    assert plain.keys() == {k[len('student.'):] for k in full
                            if k.startswith('student.')}
    calibrate = (work / 'calibration' / 'calibrate_batch_norm.log'
                 ).read_text().splitlines()[0]
    assert 'warmup/segmentor.pth' in calibrate
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['variants'] == {'warmup': 'adversarial'}
    assert '| adversarial warm-up |' in (work / 'summary.md').read_text()


def test_rerun_with_another_warmup_is_refused(finished, tiny_toy, run_tool):
    work, _ = finished
    before = (work / 'warmup' / 'stage.json').read_bytes()
    with pytest.raises(AssertionError, match='--redo warmup'):
        rerun_finished(run_tool, work, tiny_toy, '--warmup', 'adversarial')
    assert (work / 'warmup' / 'stage.json').read_bytes() == before


def test_slurm_launcher_runs_each_tool_as_an_srun_job_step(adversarial_on_slurm):
    work, log = adversarial_on_slurm
    tools = {}
    for line in log.read_text().splitlines():
        command = line.split(' :: ')[1].split()
        tools[command[command.index('-m') + 1].rsplit('.', 1)[-1]] = line
    assert '--ntasks=2' in tools['train'] and '--launcher slurm' in tools['train']
    assert '-p debug' in tools['train'] and '--gres=gpu:2' in tools['train']
    assert '--ntasks=2' in tools['generate_pseudo_labels']
    assert '--ntasks=1' in tools['calibrate_batch_norm']
    train_log = (work / 'warmup' / 'train.log').read_text()
    assert 'Distributed launcher: slurm' in train_log and 'GPU number: 2' in train_log
    assert len(list((work / 'pseudo_labels').glob('*.npy'))) == 6


def test_the_pretrained_family_runs_through_every_stage(finished):
    """The README main job's family through every stage, the oracle and CPSL on the MIC
    spine (every DAFormer / MIC ingredient on, from the same warm-up, P_ST and
    prototypes), each training stage on one of that family's configs."""
    work, _ = finished
    summary = json.loads((work / 'summary.json').read_text())
    for stage in STAGE_DIRS + ('oracle', 'cpsl_mic'):
        assert (work / stage / 'stage.json').is_file(), stage
    for stage in ('warmup', 'calibration', 'self_training', 'cpsl', 'oracle', 'cpsl_mic'):
        assert 0.0 <= summary['stages'][stage]['mIoU'] <= 100.0, stage
    spine = Config.fromfile(str(work / 'cpsl_mic' / 'config.py'))
    assert spine.model.type == 'CPSL' and spine.model.warmup_checkpoint.endswith(
        'calibrated.pth')
    for key in ('mix_augmentation', 'pseudo_label_weighting', 'feature_distance',
                'masked_consistency'):
        assert spine.model[key], key
    assert spine.train_dataloader.dataset.rare_class_sampling
    train_log = (work / 'cpsl_mic' / 'train.log').read_text()
    for key in ('src.loss_feature_distance', 'masked.loss_tgt', 'loss_sl'):
        assert key in train_log, key
    for stage in TRAINED + ('oracle', ):
        cfg = Config.fromfile(str(work / stage / 'config.py'))
        segmentor = cfg.model.get('segmentor', cfg.model)
        assert segmentor.backbone.type == 'EfficientNetLite0', stage
        assert cfg.data_preprocessor.mean == [127.0] * 3, stage
