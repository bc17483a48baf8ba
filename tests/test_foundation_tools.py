"""Foundation: registration, train/resume/test tools, CPU DDP, mmseg's entry point."""
import json
import re

import pytest
import torch

SMOKE_CFG = 'configs/smoke/fcn_r18-tiny_2xb2-20it_smoke-64x64.py'


def data_options(root):
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
    ]


def test_custom_imports_register_everything(repo_root):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS, HOOKS, MODELS

    cfg = Config.fromfile(str(repo_root / SMOKE_CFG))
    assert cfg.custom_imports == dict(
        imports=['cpsl_mmseg'], allow_failed_imports=False)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'EncoderDecoder'
    for registry, name in [(MODELS, 'CPSL'), (MODELS, 'SelfLabelingHead'),
                           (MODELS, 'RectifiedPseudoLabelLoss'),
                           (HOOKS, 'OnlineClusteringHook'), (HOOKS, 'MeanTeacherHook'),
                           (MODELS, 'MeanTeacherSelfTraining'),
                           (DATASETS, 'UDADataset')]:
        assert registry.get(name) is not None, name


def test_bare_torch_load_rejects_mmengine_checkpoints_but_ours_loads(tmp_path):
    """The reason for the compat shim, and the shim itself."""
    from mmengine.logging import HistoryBuffer

    from cpsl_mmseg.compat import load_local_checkpoint
    path = tmp_path / 'ckpt.pth'
    torch.save({'message_hub': {'buf': HistoryBuffer([1.0], [1])}}, path)
    with pytest.raises(Exception, match='weights_only|Unsupported global'):
        torch.load(path)
    assert isinstance(load_local_checkpoint(str(path))['message_hub']['buf'],
                      HistoryBuffer)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_local_checkpoint(str(tmp_path / 'missing.pth'))


def test_train_resume_and_test(tmp_path, smoke_data, run_tool):
    work = tmp_path / 'work'
    run_tool(['python', 'tools/train.py', SMOKE_CFG, '--work-dir', work,
              '--cfg-options', *data_options(smoke_data)])
    assert (work / 'iter_20.pth').is_file()

    resumed = run_tool([
        'python', 'tools/train.py', SMOKE_CFG, '--work-dir', work, '--resume',
        '--cfg-options', *data_options(smoke_data), 'train_cfg.max_iters=30'
    ])
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 0, iter: 20' in log.replace('Resumed', 'resumed')
    ckpt = torch.load(work / 'iter_30.pth', weights_only=False)
    assert ckpt['meta']['iter'] == 30

    tested = run_tool([
        'python', 'tools/test.py', SMOKE_CFG, work / 'iter_30.pth',
        '--work-dir', tmp_path / 'test', '--cfg-options',
        *data_options(smoke_data)
    ])
    out = tested.stdout + tested.stderr
    assert 'per class results' in out
    for name in ('background', 'square', 'disc'):
        assert re.search(rf'\|\s*{name}\s*\|', out), name
    assert re.search(r'mIoU: \d+\.\d+', out)


def test_resume_from_explicit_missing_checkpoint_names_it(tmp_path, run_tool):
    with pytest.raises(AssertionError, match='nope.pth'):
        run_tool(['python', 'tools/train.py', SMOKE_CFG, '--work-dir',
                  tmp_path, '--resume', tmp_path / 'nope.pth'])


@pytest.mark.timeout(600)
def test_two_process_cpu_ddp_ranks_agree(tmp_path, smoke_data, run_tool):
    work = tmp_path / 'ddp'
    proc = run_tool([
        'python', '-m', 'torch.distributed.run', '--nproc_per_node=2',
        '--master_port=29517', 'tools/train.py', SMOKE_CFG, '--launcher',
        'pytorch', '--work-dir', work, '--cfg-options',
        *data_options(smoke_data), 'train_cfg.max_iters=6',
        'train_cfg.val_interval=6'
    ])
    digests = [
        json.loads((work / f'rank{r}_state_digest.json').read_text())
        for r in (0, 1)
    ]
    assert digests[0]['iter'] == digests[1]['iter'] == 6
    local = set(digests[0]['rank_local'])
    assert all('running_' in k or 'num_batches' in k for k in local)
    shared = [k for k in digests[0]['digests'] if k not in local]
    assert len(shared) > 40 and any(k.endswith('conv_seg.weight') for k in shared)
    for key in shared:
        assert digests[0]['digests'][key] == digests[1]['digests'][key], key
    assert '2 ranks agree' in proc.stdout + proc.stderr


def mmseg_train_script():
    """The tools/train.py that ships inside the mmsegmentation package."""
    import mmseg
    from pathlib import Path
    script = Path(mmseg.__file__).parent / '.mim' / 'tools' / 'train.py'
    assert script.is_file(), script
    return script


def test_mmseg_entry_point_trains_with_only_custom_imports(
        tmp_path, smoke_data, run_tool):
    """MMSegmentation's own train.py, which never imports cpsl_mmseg itself: our
    code enters only through the config's custom_imports."""
    source = mmseg_train_script().read_text()
    assert 'cpsl_mmseg' not in source
    run_tool([
        'python', mmseg_train_script(), SMOKE_CFG, '--work-dir',
        tmp_path / 'w', '--cfg-options', *data_options(smoke_data),
        'train_cfg.max_iters=4'
    ])
    assert (tmp_path / 'w' / 'iter_4.pth').is_file()


def test_prepare_launch_picks_cpu_safe_wrappers():
    from mmengine.config import Config

    from cpsl_mmseg.utils.launch import prepare_launch
    single = Config(dict(launcher='none'))
    prepare_launch(single)
    assert 'model_wrapper_cfg' not in single

    default = Config(dict(launcher='pytorch', find_unused_parameters=True))
    prepare_launch(default)
    assert default.model_wrapper_cfg == dict(
        type='CPUAwareDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=True)

    named = Config(dict(
        launcher='slurm',
        model_wrapper_cfg=dict(type='MMSeparateDistributedDataParallel')))
    prepare_launch(named)
    assert named.model_wrapper_cfg.device_ids is None


def test_a_config_is_formatted_once_and_written_as_before():
    """compat item 4: the runner's three pretty_text calls format once; the text is
    yapf's, and a changed config is formatted again."""
    from mmengine.config import Config
    from yapf.yapflib.yapf_api import FormatCode

    from cpsl_mmseg import compat
    cfg = Config(dict(model=dict(type='CPSL', lambdas=[1.0, 0.1]), seed=7))
    before = compat._format_code_once.cache_info()
    text = cfg.pretty_text
    assert cfg.pretty_text == text
    after = compat._format_code_once.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    style = dict(based_on_style='pep8', blank_line_before_nested_class_or_def=True,
                 split_before_expression_after_opening_paren=True)
    cfg.seed = 8
    changed = cfg.pretty_text
    assert 'seed = 8' in changed
    unformatted = changed.replace('seed = 8', 'seed  =  8')  # yapf undoes the spacing
    assert FormatCode(unformatted, style_config=style)[0] == changed
