"""tools/convert_weights.py on synthetic state dicts with the key names and shapes of
torchvision's ResNet-101 and of the DeepLab v2 / ProDA checkpoints (tables built here;
tensors are stride-0 expansions of one value per key, so full-size dicts cost nothing)."""
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import cpsl_mmseg  # noqa: F401
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

register_all_modules(init_default_scope=False)

TOOL = Path(__file__).resolve().parents[1] / 'tools' / 'convert_weights.py'
_spec = importlib.util.spec_from_file_location('convert_weights', TOOL)
cw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cw)

TORCHVISION_RESNET101_PARAMS = 44_549_160  # published parameter count


def bn_shapes(prefix, channels):
    shapes = {f'{prefix}.{n}': (channels, )
              for n in ('weight', 'bias', 'running_mean', 'running_var')}
    shapes[f'{prefix}.num_batches_tracked'] = ()
    return shapes


def resnet101_shapes(with_fc=True):
    """Key -> shape of torchvision's resnet101 state dict, from the architecture."""
    shapes = {'conv1.weight': (64, 3, 7, 7), **bn_shapes('bn1', 64)}
    inplanes = 64
    for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 23, 3)), 1):
        for i in range(blocks):
            p = f'layer{stage}.{i}'
            shapes[f'{p}.conv1.weight'] = (planes, inplanes, 1, 1)
            shapes.update(bn_shapes(f'{p}.bn1', planes))
            shapes[f'{p}.conv2.weight'] = (planes, planes, 3, 3)
            shapes.update(bn_shapes(f'{p}.bn2', planes))
            shapes[f'{p}.conv3.weight'] = (planes * 4, planes, 1, 1)
            shapes.update(bn_shapes(f'{p}.bn3', planes * 4))
            if i == 0:
                shapes[f'{p}.downsample.0.weight'] = (planes * 4, inplanes, 1, 1)
                shapes.update(bn_shapes(f'{p}.downsample.1', planes * 4))
            inplanes = planes * 4
    if with_fc:
        shapes['fc.weight'] = (1000, 2048)
        shapes['fc.bias'] = (1000, )
    return shapes


def deeplabv2_head_shapes(num_classes):
    shapes = {}
    for i in range(4):
        shapes[f'layer5.conv2d_list.{i}.weight'] = (num_classes, 2048, 3, 3)
        shapes[f'layer5.conv2d_list.{i}.bias'] = (num_classes, )
    return shapes


def proda_head_shapes(num_classes):
    shapes = {}
    for i in range(5):
        k = 1 if i == 0 else 3
        shapes[f'layer5.conv2d_list.{i}.0.weight'] = (256, 2048, k, k)
        for n in ('0.bias', '1.weight', '1.bias'):
            shapes[f'layer5.conv2d_list.{i}.{n}'] = (256, )
    shapes.update({
        'layer5.bottleneck.0.se.0.weight': (80, 1280), 'layer5.bottleneck.0.se.0.bias': (80, ),
        'layer5.bottleneck.0.se.2.weight': (1280, 80),
        'layer5.bottleneck.0.se.2.bias': (1280, ),
        'layer5.bottleneck.1.weight': (256, 1280, 3, 3), 'layer5.bottleneck.1.bias': (256, ),
        'layer5.bottleneck.2.weight': (256, ), 'layer5.bottleneck.2.bias': (256, ),
        'layer5.head.1.weight': (num_classes, 256, 1, 1)})
    return shapes


def synthetic(shapes, prefix=''):
    """One distinct value per key, expanded (no memory) to the key's shape."""
    return {prefix + k: torch.tensor(float(i)).expand(s) if s else torch.tensor(i)
            for i, (k, s) in enumerate(shapes.items())}


def save(obj, path):
    torch.save(obj, path)
    return str(path)


def test_resnet101_table_matches_torchvision_parameter_count():
    shapes = resnet101_shapes()
    params = sum(torch.Size(s).numel() for k, s in shapes.items()
                 if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked')))
    assert params == TORCHVISION_RESNET101_PARAMS


def test_torchvision_resnet101_converts_to_backbone_keys(tmp_path, capsys):
    source = synthetic(resnet101_shapes())
    src = save(source, tmp_path / 'resnet101.pth')
    dst = tmp_path / 'out.pth'
    assert cw.main([src, str(dst), '--strict']) == 0
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    state = ckpt['state_dict']
    assert set(state) == {'backbone.' + k for k in source if not k.startswith('fc.')}
    for key in ('conv1.weight', 'layer3.22.bn3.running_var', 'layer4.0.downsample.0.weight'):
        assert torch.equal(state['backbone.' + key], source[key])
    assert ckpt['meta']['layout'] == 'resnet'
    assert ckpt['meta']['dropped'] == ['fc.bias', 'fc.weight']
    assert "'style': 'pytorch'" in capsys.readouterr().out


def test_converted_backbone_loads_into_mmseg_resnet101(tmp_path):
    src = save(synthetic(resnet101_shapes()), tmp_path / 'resnet101.pth')
    state = cw.convert_checkpoint(src, str(tmp_path / 'out.pth'))
    with torch.device('meta'):
        resnet = MODELS.build(dict(type='ResNet', depth=101, strides=(1, 2, 1, 1),
                                   dilations=(1, 1, 2, 4)))
    backbone = {k[len('backbone.'):]: v for k, v in state.items()}
    resnet.load_state_dict(backbone, strict=True, assign=True)


def test_deeplabv2_checkpoint_with_scale_prefix(tmp_path):
    shapes = {**resnet101_shapes(with_fc=False), **deeplabv2_head_shapes(19)}
    source = synthetic(shapes, prefix='Scale.')
    dst = tmp_path / 'out.pth'
    assert cw.main([save(source, tmp_path / 'deeplab.pth'), str(dst), '--strict']) == 0
    state = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    assert torch.equal(state['decode_head.aspp_branches.3.bias'],
                       source['Scale.layer5.conv2d_list.3.bias'])
    assert torch.equal(state['decode_head.conv_seg.weight'][:, :, 0, 0], torch.eye(19))
    assert torch.equal(state['backbone.layer2.3.conv2.weight'],
                       source['Scale.layer2.3.conv2.weight'])


def test_proda_checkpoint_in_nested_container_with_module_prefix(tmp_path):
    shapes = {**resnet101_shapes(with_fc=False), **proda_head_shapes(16)}
    source = synthetic(shapes, prefix='module.')
    src = save({'ResNet101': {'model_state': source}, 'iter': 3}, tmp_path / 'proda.pth')
    dst = tmp_path / 'out.pth'
    assert cw.main([src, str(dst), '--strict']) == 0
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    state = ckpt['state_dict']
    assert ckpt['meta']['layout'] == 'deeplabv2_se'
    pairs = {'decode_head.aspp_branches.4.conv.weight': 'layer5.conv2d_list.4.0.weight',
             'decode_head.aspp_branches.0.gn.bias': 'layer5.conv2d_list.0.1.bias',
             'decode_head.squeeze_excitation.expand.weight': 'layer5.bottleneck.0.se.2.weight',
             'decode_head.bottleneck.gn.weight': 'layer5.bottleneck.2.weight',
             'decode_head.conv_seg.weight': 'layer5.head.1.weight'}
    for target, src_key in pairs.items():
        assert torch.equal(state[target], source['module.' + src_key])
    assert torch.equal(state['decode_head.conv_seg.bias'], torch.zeros(16))


def test_unknown_keys_are_refused_and_listed_then_skippable(tmp_path, capsys):
    source = synthetic(resnet101_shapes())
    source['bn_pretrain.weight'] = torch.ones(2048)
    src = save(source, tmp_path / 'src.pth')
    dst = tmp_path / 'out.pth'
    assert cw.main([src, str(dst)]) == 1
    assert 'bn_pretrain.weight' in capsys.readouterr().err
    assert not dst.exists()
    assert cw.main([src, str(dst), '--skip', 'bn_pretrain']) == 0
    assert dst.exists()


def test_shape_mismatch_is_refused_and_listed(tmp_path, capsys):
    source = synthetic(resnet101_shapes())
    source['layer1.0.conv2.weight'] = torch.zeros(64, 64, 1, 1)
    assert cw.main([save(source, tmp_path / 'src.pth'), str(tmp_path / 'out.pth')]) == 1
    err = capsys.readouterr().err
    assert 'backbone.layer1.0.conv2.weight' in err and '(64, 64, 1, 1)' in err


def test_strict_refuses_uncovered_head_of_target_config(tmp_path, capsys):
    config = tmp_path / 'cfg.py'
    config.write_text(
        "model = dict(type='EncoderDecoder',\n"
        "    backbone=dict(type='ResNet', depth=101, strides=(1, 2, 1, 1),\n"
        "                  dilations=(1, 1, 2, 4), style='pytorch'),\n"
        "    decode_head=dict(type='DeepLabV2SEHead', in_channels=2048, channels=256,\n"
        "                     num_classes=19))\n")
    src = save(synthetic(resnet101_shapes()), tmp_path / 'src.pth')
    dst = str(tmp_path / 'out.pth')
    assert cw.main([src, dst, '--config', str(config)]) == 0
    assert cw.main([src, dst, '--config', str(config), '--strict']) == 1
    assert 'decode_head.bottleneck.conv.weight' in capsys.readouterr().err


def test_checkpoint_without_state_dict_is_reported(tmp_path, capsys):
    src = save({'epoch': 1, 'optimizer': {}}, tmp_path / 'src.pth')
    assert cw.main([src, str(tmp_path / 'out.pth')]) == 1
    assert 'no state dict found' in capsys.readouterr().err


def reference_sum(x, source, num_branches, dilations=(6, 12, 18, 24)):
    return sum(F.conv2d(x, source[f'layer5.conv2d_list.{i}.weight'],
                        source[f'layer5.conv2d_list.{i}.bias'], padding=d, dilation=d)
               for i, d in enumerate(dilations[:num_branches]))


@pytest.mark.parametrize('sum_branches', [None, 2])
def test_converted_deeplabv2_head_computes_the_original_logits(sum_branches):
    torch.manual_seed(0)
    source = {f'layer5.conv2d_list.{i}.{n}': torch.randn(s)
              for i in range(4) for n, s in (('weight', (5, 8, 3, 3)), ('bias', (5, )))}
    result = cw.convert_state_dict(source, sum_branches=sum_branches)
    head = MODELS.build(dict(type='DeepLabV2Head', in_channels=8, channels=5,
                             num_classes=5, dropout_ratio=0.0)).eval()
    head_state = {k[len('decode_head.'):]: v for k, v in result.state_dict.items()}
    head.load_state_dict(head_state, strict=True)
    x = torch.randn(1, 8, 30, 30)
    expected = reference_sum(x, source, sum_branches or 4)
    torch.testing.assert_close(head([x]), expected)


def test_converted_proda_head_computes_the_reference_forward():
    """Functional re-statement of the reference head (branches conv-GN-ReLU, concat, SE
    with two linears, conv-GN, bias-free 1x1 classifier) vs the converted head."""
    torch.manual_seed(0)
    c_in, ch, groups, ncls = 8, 16, 4, 3
    source = {}
    for i in range(5):
        k = 1 if i == 0 else 3
        source[f'layer5.conv2d_list.{i}.0.weight'] = torch.randn(ch, c_in, k, k)
        source[f'layer5.conv2d_list.{i}.0.bias'] = torch.randn(ch)
        source[f'layer5.conv2d_list.{i}.1.weight'] = torch.rand(ch) + 0.5
        source[f'layer5.conv2d_list.{i}.1.bias'] = torch.randn(ch)
    source.update({
        'layer5.bottleneck.0.se.0.weight': torch.randn(5, 5 * ch),
        'layer5.bottleneck.0.se.0.bias': torch.randn(5),
        'layer5.bottleneck.0.se.2.weight': torch.randn(5 * ch, 5),
        'layer5.bottleneck.0.se.2.bias': torch.randn(5 * ch),
        'layer5.bottleneck.1.weight': torch.randn(ch, 5 * ch, 3, 3) * 0.1,
        'layer5.bottleneck.1.bias': torch.randn(ch),
        'layer5.bottleneck.2.weight': torch.rand(ch) + 0.5,
        'layer5.bottleneck.2.bias': torch.randn(ch),
        'layer5.head.1.weight': torch.randn(ncls, ch, 1, 1)})
    result = cw.convert_state_dict({'module.' + k: v for k, v in source.items()})
    assert result.layout == 'deeplabv2_se' and not result.unknown
    head = MODELS.build(dict(type='DeepLabV2SEHead', in_channels=c_in, channels=ch,
                             num_classes=ncls, se_ratio=16,
                             norm_cfg=dict(type='GN', num_groups=groups))).eval()
    head.load_state_dict({k[len('decode_head.'):]: v for k, v in result.state_dict.items()},
                         strict=True)

    s = source
    x = torch.randn(2, c_in, 12, 12)
    branches = []
    for i, d in enumerate((1, 6, 12, 18, 24)):
        y = F.conv2d(x, s[f'layer5.conv2d_list.{i}.0.weight'], s[f'layer5.conv2d_list.{i}.0.bias'],
                     padding=0 if i == 0 else d, dilation=d)
        y = F.group_norm(y, groups, s[f'layer5.conv2d_list.{i}.1.weight'],
                         s[f'layer5.conv2d_list.{i}.1.bias'])
        branches.append(F.relu(y))
    cat = torch.cat(branches, 1)
    gate = torch.sigmoid(F.linear(F.relu(F.linear(cat.mean((2, 3)),
                                                  s['layer5.bottleneck.0.se.0.weight'],
                                                  s['layer5.bottleneck.0.se.0.bias'])),
                                  s['layer5.bottleneck.0.se.2.weight'],
                                  s['layer5.bottleneck.0.se.2.bias']))
    z = F.conv2d(cat * gate[:, :, None, None], s['layer5.bottleneck.1.weight'],
                 s['layer5.bottleneck.1.bias'], padding=1)
    z = F.group_norm(z, groups, s['layer5.bottleneck.2.weight'], s['layer5.bottleneck.2.bias'])
    expected = F.conv2d(z, s['layer5.head.1.weight'])
    torch.testing.assert_close(head([x]), expected, rtol=1e-4, atol=1e-4)
