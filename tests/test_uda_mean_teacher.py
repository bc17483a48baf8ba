"""The mean-teacher base on its own, and the hooks both segmentors refuse to train
without (MeanTeacherHook, OnlineClusteringHook)."""
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import cpsl_mmseg  # noqa: F401

MEAN_TEACHER = 'configs/smoke/mean-teacher_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'
CPSL = 'configs/smoke/cpsl_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'
C = 3


def build(repo_root, config, **overrides):
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(repo_root / config))
    cfg.model.update(overrides)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.train()


def test_mean_teacher_trains_on_the_teacher_argmax(repo_root, paired_batch):
    model = build(repo_root, MEAN_TEACHER)
    assert type(model).__name__ == 'MeanTeacherSelfTraining'
    assert not hasattr(model, 'self_labeling_head')
    inputs, samples = paired_batch()
    losses = model.loss(inputs, samples)
    assert set(losses) >= {'src.decode.loss_ce', 'tgt.loss_tgt', 'loss_reg'}
    assert 'loss_sl' not in losses
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    # its pseudo labels are the teacher's own argmax (P_ST = teacher softmax)
    teacher = model.teacher_forward(inputs['target'])
    padding = model.padding_mask(inputs['target'], samples['target'])
    p_st, labels, confidence = model.pseudo_labels(inputs['target'], samples['target'],
                                                   teacher, padding)
    expected = model.teacher.eval().encode_decode(
        inputs['target'], [s.metainfo for s in samples['target']]).softmax(1)
    torch.testing.assert_close(p_st, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(labels, p_st.argmax(1))
    torch.testing.assert_close(confidence, p_st.max(1).values)  # DAFormer's confidence


def test_mean_teacher_refuses_a_second_step_without_the_ema_hook(repo_root, paired_batch):
    model = build(repo_root, MEAN_TEACHER)
    model.loss(*paired_batch(0))
    with pytest.raises(RuntimeError, match=r"MeanTeacherHook.*custom_hooks"):
        model.loss(*paired_batch(1))
    model.momentum_update()  # what the hook does after every step
    model.loss(*paired_batch(1))


def test_cpsl_refuses_to_train_without_its_statistics(repo_root, paired_batch):
    model = build(repo_root, CPSL)
    with pytest.raises(RuntimeError, match=r"OnlineClusteringHook.*custom_hooks"):
        model.loss(*paired_batch())
    dim = model.teacher.decode_head.conv_seg.in_channels
    model.initialize_statistics(torch.randn(C, dim), torch.tensor([5., 3., 2.]))
    assert 'loss_sl' in model.loss(*paired_batch())


def test_class_prior_momentum_is_refused_by_its_new_name(repo_root):
    with pytest.raises(ValueError, match='model.class_prior.decay'):
        build(repo_root, CPSL, class_prior=dict(mode='fixed', momentum=0.9))


@pytest.mark.parametrize('hooks, missing', [
    ("[dict(type='MeanTeacherHook')]", 'OnlineClusteringHook'),
    ("[dict(type='OnlineClusteringHook')]", 'MeanTeacherHook'),
])
def test_training_without_a_hook_fails_naming_custom_hooks(
        hooks, missing, tmp_path, smoke_uda_data, uda_options, repo_root):
    """Through tools/train.py: a CPSL config missing either hook stops with an error
    naming custom_hooks and the hook (the statistics before the first step, the EMA
    update at the second, the first step that would use a stale teacher)."""
    config = tmp_path / 'config.py'
    config.write_text(f"_base_ = ['{repo_root / CPSL}']\ncustom_hooks = {hooks}\n")
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', str(config), '--work-dir', str(tmp_path),
         '--cfg-options', *uda_options(smoke_uda_data), 'train_cfg.max_iters=3'],
        cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'custom_hooks' in proc.stderr and missing in proc.stderr, proc.stderr[-2000:]


def test_mean_teacher_config_trains_through_the_runner(tmp_path, smoke_uda_data,
                                                       uda_options, run_tool):
    run_tool(['python', 'tools/train.py', MEAN_TEACHER, '--work-dir', tmp_path,
              '--cfg-options', *uda_options(smoke_uda_data, MEAN_TEACHER),
              'train_cfg.max_iters=3', 'train_cfg.val_interval=3'])
    state = torch.load(tmp_path / 'iter_3.pth', weights_only=False)['state_dict']
    student, teacher = (state[f'{n}.decode_head.conv_seg.weight']
                        for n in ('student', 'teacher'))
    assert not torch.equal(student, teacher)  # the teacher lags: it is an EMA
