"""DeepLab v2 decode heads: build through MODELS, shapes, feature Z at conv_seg, and a
tiny EncoderDecoder trained for one loss/backward step on CPU."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import PixelData

import cpsl_mmseg  # noqa: F401  (registers the heads)
from cpsl_mmseg.models.decode_heads import DeepLabV2Head, DeepLabV2SEHead
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules

register_all_modules(init_default_scope=False)

HEADS = ['DeepLabV2Head', 'DeepLabV2SEHead']


def build_head(head_type, **overrides):
    cfg = dict(type=head_type, in_channels=12, channels=16, num_classes=5)
    if head_type == 'DeepLabV2SEHead':
        cfg['norm_cfg'] = dict(type='GN', num_groups=4, requires_grad=True)
    cfg.update(overrides)
    return MODELS.build(cfg)


def capture_conv_seg_input(head):
    seen = []
    head.conv_seg.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    return seen


@pytest.mark.parametrize('head_type', HEADS)
def test_head_builds_and_exposes_feature_at_conv_seg(head_type):
    torch.manual_seed(0)
    head = build_head(head_type).eval()
    seen = capture_conv_seg_input(head)
    x = torch.randn(2, 12, 9, 11)
    logits = head([torch.randn(2, 3, 18, 22), x])  # in_index=-1 picks the last level
    assert logits.shape == (2, 5, 9, 11)
    assert len(seen) == 1 and seen[0].shape == (2, 16, 9, 11)
    # In eval mode dropout is the identity: the hooked input is the head's feature Z.
    torch.testing.assert_close(seen[0], head._forward_feature([x]))
    torch.testing.assert_close(logits, head.conv_seg(seen[0]))


def test_deeplabv2_head_is_the_original_branch_sum():
    """channels == num_classes and conv_seg = identity: the output is sum_d conv_d(x)."""
    torch.manual_seed(0)
    head = build_head('DeepLabV2Head', channels=5, dropout_ratio=0.0).eval()
    assert [b.dilation[0] for b in head.aspp_branches] == [6, 12, 18, 24]
    with torch.no_grad():
        head.conv_seg.weight.copy_(torch.eye(5).reshape(5, 5, 1, 1))
        head.conv_seg.bias.zero_()
    x = torch.randn(1, 12, 20, 20)
    expected = sum(F.conv2d(x, b.weight, b.bias, padding=d, dilation=d)
                   for b, d in zip(head.aspp_branches, (6, 12, 18, 24)))
    torch.testing.assert_close(head([x]), expected)


def test_se_head_structure_and_reference_defaults():
    head = MODELS.build(dict(type='DeepLabV2SEHead', in_channels=64, channels=256,
                             num_classes=19))
    assert head.dropout.p == pytest.approx(0.1)
    assert len(head.aspp_branches) == 5
    assert [b.conv.dilation[0] for b in head.aspp_branches] == [1, 6, 12, 18, 24]
    assert [b.conv.kernel_size[0] for b in head.aspp_branches] == [1, 3, 3, 3, 3]
    assert all(b.conv.bias is not None for b in head.aspp_branches)
    norm = head.aspp_branches[0].gn
    assert isinstance(norm, torch.nn.GroupNorm) and norm.num_groups == 32
    assert head.squeeze_excitation.reduce.weight.shape == (1280 // 16, 1280)
    assert head.bottleneck.conv.weight.shape == (256, 1280, 3, 3)
    assert not head.bottleneck.with_activation  # reference code: GroupNorm, no ReLU


@pytest.mark.parametrize('bottleneck_act', [False, True])
def test_se_head_feature_sign_follows_bottleneck_act(bottleneck_act):
    torch.manual_seed(0)
    head = build_head('DeepLabV2SEHead', bottleneck_act=bottleneck_act).eval()
    feat = head._forward_feature([torch.randn(2, 12, 8, 8)])
    # GroupNorm output without activation is zero-mean per group: negative values exist.
    assert bool((feat < 0).any()) is (not bottleneck_act)


def test_se_head_rejects_channels_not_divisible_by_groups():
    with pytest.raises(ValueError):
        build_head('DeepLabV2SEHead', channels=18)


def test_se_block_gates_channels():
    head = build_head('DeepLabV2SEHead')
    se = head.squeeze_excitation
    with torch.no_grad():
        se.expand.weight.zero_()
        se.expand.bias.fill_(-50.0)  # sigmoid -> 0: every channel switched off
    assert se(torch.randn(1, 80, 4, 4)).abs().max() < 1e-12


def tiny_segmentor(head_type):
    head = dict(type=head_type, in_channels=64, channels=16, num_classes=3,
                dilations=(1, 2), align_corners=False)
    if head_type == 'DeepLabV2SEHead':
        head['norm_cfg'] = dict(type='GN', num_groups=4, requires_grad=True)
    return MODELS.build(ConfigDict(  # ConfigDict: EncoderDecoder reads test_cfg.mode
        _scope_='mmseg', type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0] * 3, std=[1.0] * 3,
                               size=(32, 32), pad_val=0, seg_pad_val=255),
        backbone=dict(type='ResNet', depth=18, base_channels=8, num_stages=4,
                      out_indices=(3, ), strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                      norm_cfg=dict(type='BN', requires_grad=True)),
        decode_head=head, train_cfg=dict(), test_cfg=dict(mode='whole')))


@pytest.mark.parametrize('head_type', HEADS)
def test_encoder_decoder_with_head_trains_and_predicts_on_cpu(head_type):
    torch.manual_seed(0)
    model = tiny_segmentor(head_type)
    model.init_weights()
    seen = capture_conv_seg_input(model.decode_head)
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32),
                                             pad_shape=(32, 32)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 32, 32)))
        samples.append(sample)
    data = model.data_preprocessor(
        dict(inputs=[torch.rand(3, 32, 32) * 255 for _ in range(2)],
             data_samples=samples), training=True)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    assert torch.isfinite(losses['decode.loss_ce'])
    losses['decode.loss_ce'].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert seen[-1].shape == (2, 16, 4, 4)  # output stride 8 of a 32 x 32 input

    model.eval()
    with torch.no_grad():
        preds = model(data['inputs'], data['data_samples'], mode='predict')
    assert preds[0].pred_sem_seg.data.shape == (1, 32, 32)
    assert preds[0].seg_logits.data.shape == (3, 32, 32)


def test_heads_are_registered_classes():
    assert MODELS.get('DeepLabV2Head') is DeepLabV2Head
    assert MODELS.get('DeepLabV2SEHead') is DeepLabV2SEHead
