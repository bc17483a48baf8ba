"""Frozen BN statistics during adaptation (model.freeze_norm_statistics)."""
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from torch import nn

import cpsl_mmseg  # noqa: F401
from cpsl_mmseg.models.utils.batch_norm import freeze_batch_norm

CPSL_CFG = 'configs/smoke/cpsl_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                         nn.ReLU(), nn.Conv2d(4, 2, 1), nn.BatchNorm2d(2))


def test_frozen_layers_keep_statistics_but_train_their_weights():
    net = small_net()
    net.train()
    freeze_batch_norm(net)
    before = net[1].running_mean.clone()
    net(torch.randn(2, 3, 8, 8)).sum().backward()
    torch.testing.assert_close(net[1].running_mean, before)
    assert net[1].weight.grad is not None
    assert net[0].training and not net[1].training


def cpsl_loss_after_train(repo_root, paired_batch, **overrides):
    """A smoke CPSL model in train mode and one loss() on a random batch."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(repo_root / CPSL_CFG))
    cfg.model.update(overrides)
    model = MODELS.build(cfg.model)
    model.init_weights()
    dim = model.teacher.decode_head.conv_seg.in_channels
    model.initialize_statistics(torch.randn(3, dim), torch.tensor([5., 3., 2.]))
    model.train()
    bn = [m for m in model.student.modules() if isinstance(m, nn.BatchNorm2d)]
    before = [m.running_mean.clone() for m in bn]
    losses = model.loss(*paired_batch())
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    return bn, before


def test_cpsl_freeze_norm_statistics_keeps_the_student_statistics(
        repo_root, paired_batch):
    bn, before = cpsl_loss_after_train(repo_root, paired_batch,
                                       freeze_norm_statistics=True)
    assert bn and not any(m.training for m in bn)
    for m, b in zip(bn, before):
        torch.testing.assert_close(m.running_mean, b)
    assert bn[0].weight.grad is not None

    bn, before = cpsl_loss_after_train(repo_root, paired_batch)
    assert all(m.training for m in bn)
    assert any(not torch.equal(m.running_mean, b) for m, b in zip(bn, before))
