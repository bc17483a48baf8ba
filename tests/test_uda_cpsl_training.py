"""CPSL through mmengine's Runner: two architectures, exact resume, CPU DDP."""
import json

import pytest
import torch

CONFIGS = [
    'configs/smoke/cpsl_fcn_r18-tiny_2xb2-20it_smoke-64x64.py',
    'configs/smoke/cpsl_segformer-tiny_2xb2-20it_smoke-64x64.py',
]
LOGGED = ('src.decode.loss_ce', 'tgt.loss_tgt', 'loss_sl', 'loss_reg',
          'prior_drift', 'bank_fill', 'bank_classes', 'bank_over_prior_min',
          'sinkhorn_precision_mean')


def scalars(work_dir):
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    return [json.loads(line) for line in files[-1].read_text().splitlines()]


@pytest.mark.parametrize('config', CONFIGS)
def test_cpsl_trains_with_every_term_logged(config, tmp_path, smoke_uda_data,
                                            uda_options, run_tool):
    work = tmp_path / 'work'
    run_tool([
        'python', 'tools/train.py', config, '--work-dir', work,
        '--cfg-options', *uda_options(smoke_uda_data),
        'train_cfg.max_iters=6', 'train_cfg.val_interval=6',
        'default_hooks.logger.interval=2', 'custom_hooks.1.bank_log_interval=3'
    ])
    log = next(work.glob('*/*.log')).read_text()
    make_up = [line for line in log.splitlines() if 'memory bank make-up' in line]
    assert len(make_up) == 2 and 'at iter 3:' in make_up[0] and 'at iter 6:' in make_up[1]
    balance_lines = [line for line in log.splitlines() if 'class balance at iter' in line]
    assert len(balance_lines) == 2
    reports = json.loads((work / 'class_balance.json').read_text())
    assert [r['iter'] for r in reports] == [3, 6]
    last = reports[-1]
    assert len(last['classes']) == len(last['prior']) == len(last['precision']) == 3
    assert abs(sum(last['bank_share']) - 1) < 1e-6 and abs(sum(last['prior']) - 1) < 1e-6
    for share, prior, ratio in zip(last['bank_share'], last['prior'],
                                   last['bank_over_prior']):
        assert ratio == pytest.approx(share / prior)
    records = [r for r in scalars(work) if 'loss' in r]
    assert records, 'no training records logged'
    for key in LOGGED:
        values = [r[key] for r in records if key in r]
        assert values, f'{key} never logged'
        assert all(v == v and abs(v) < 1e6 for v in values), (key, values)
    assert any('mIoU' in r for r in scalars(work))
    ckpt = torch.load(work / 'iter_6.pth', weights_only=False)
    assert bool(ckpt['state_dict']['statistics_initialized'])


def test_resume_restores_clustering_state_exactly(tmp_path, smoke_uda_data,
                                                  uda_options, repo_root):
    """Train 4 iterations (checkpoint every 2), resume from iter_2, compare the
    restored state with the saved tensors, and keep training."""
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS
    from mmengine.runner import Runner

    import cpsl_mmseg  # noqa: F401

    def make_cfg(work_dir, max_iters, extra=()):
        cfg = Config.fromfile(str(repo_root / CONFIGS[0]))
        cfg.merge_from_dict(
            dict(item.split('=', 1) for item in uda_options(smoke_uda_data)))
        cfg.work_dir = str(work_dir)
        cfg.train_cfg.max_iters = max_iters
        cfg.train_cfg.val_interval = 100
        cfg.default_hooks.checkpoint.interval = 2
        cfg.param_scheduler[0].end = max_iters
        cfg.custom_hooks = cfg.custom_hooks + list(extra)
        return cfg

    work = tmp_path / 'w'
    Runner.from_cfg(make_cfg(work, 4)).train()
    saved = torch.load(work / 'iter_2.pth', weights_only=False)['state_dict']

    captured = {}

    @HOOKS.register_module(force=True)
    class CaptureStateAfterResume(Hook):
        priority = 'LOWEST'

        def before_train(self, runner):
            captured.update({
                k: v.detach().clone()
                for k, v in runner.model.state_dict().items()
            })
            captured['__iter__'] = runner.iter

    cfg = make_cfg(work, 5, [dict(type='CaptureStateAfterResume')])
    cfg.resume = True
    cfg.load_from = str(work / 'iter_2.pth')
    Runner.from_cfg(cfg).train()

    assert captured['__iter__'] == 2
    groups = ('memory_bank.', 'class_prior.', 'teacher.',
              'self_labeling_head.momentum_prototypes', 'statistics_initialized')
    checked = [k for k in saved if k.startswith(groups)]
    assert any(k.startswith('memory_bank.') for k in checked)
    assert any(k.startswith('teacher.') for k in checked)
    for key in checked:
        torch.testing.assert_close(captured[key], saved[key], rtol=0, atol=0,
                                   msg=key)
    assert int(saved['memory_bank.fill_count']) > 0
    assert (work / 'iter_5.pth').is_file()


@pytest.mark.timeout(600)
def test_two_process_gloo_ranks_share_bank_and_prior(tmp_path, smoke_uda_data,
                                                     uda_options, run_tool):
    work = tmp_path / 'ddp'
    proc = run_tool([
        'python', '-m', 'torch.distributed.run', '--nproc_per_node=2',
        '--master_port=29531', 'tools/train.py', CONFIGS[0], '--launcher',
        'pytorch', '--work-dir', work, '--cfg-options',
        *uda_options(smoke_uda_data), 'train_cfg.max_iters=4',
        'train_cfg.val_interval=4'
    ])
    ranks = [
        json.loads((work / f'rank{r}_state_digest.json').read_text())
        for r in (0, 1)
    ]
    for key in ('memory_bank.features', 'memory_bank.fill_count',
                'class_prior.prior', 'teacher.decode_head.conv_seg.weight',
                'self_labeling_head.momentum_prototypes'):
        assert ranks[0]['digests'][key] == ranks[1]['digests'][key], key
    local = set(ranks[0]['rank_local'])
    for key, digest in ranks[0]['digests'].items():
        if key not in local:
            assert ranks[1]['digests'][key] == digest, key
    assert '2 ranks agree' in proc.stdout + proc.stderr
