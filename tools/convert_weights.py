"""Convert ResNet-101 / DeepLab v2 checkpoints into cpsl_mmseg's mmseg model keys.

    python tools/convert_weights.py SRC DST [--config CFG] [--skip PREFIX ...]
                                    [--sum-branches N] [--strict] [--allow-pickle]

Supported source layouts (detected from the keys, after stripping any number of
leading ``module.`` (DataParallel/DDP) and a leading ``Scale.`` (the Caffe-ported
DeepLab v2 init file); the state dict may sit under ``state_dict``, ``model_state``,
``model`` or ``ResNet101`` of the checkpoint, nested in any order):

``resnet``       torchvision ResNet names: ``conv1``, ``bn1``,
                 ``layer{1-4}.{i}.{conv1-3,bn1-3,downsample.0,downsample.1}.*``
                 -> ``backbone.<same>``; ``fc.*`` (ImageNet classifier) is dropped.
``deeplabv2``    resnet keys + ``layer5.conv2d_list.{i}.{weight,bias}`` (original ASPP-sum
                 classifier, C x 2048 x 3 x 3) -> ``decode_head.aspp_branches.{i}.*`` of
                 DeepLabV2Head(channels=C, dropout_ratio=0), plus a written identity
                 ``decode_head.conv_seg`` (zero bias): the converted head computes exactly
                 the original logits. ``--sum-branches 2`` zeroes branches 2.. to match
                 code that returns after adding the second branch (AdaptSegNet lineage).
``deeplabv2_se`` resnet keys + ProDA/CPSL ``layer5`` (``conv2d_list.{i}.0`` conv /
                 ``.1`` GroupNorm, ``bottleneck.0.se.{0,2}`` SE linears,
                 ``bottleneck.{1,2}`` conv / GroupNorm, ``head.1`` bias-free classifier)
                 -> DeepLabV2SEHead ``aspp_branches.{i}.{conv,gn}``,
                 ``squeeze_excitation.{reduce,expand}``, ``bottleneck.{conv,gn}``,
                 ``conv_seg`` (zero bias written).

The backbone target is mmseg ``ResNet(depth=101, strides=(1, 2, 1, 1),
dilations=(1, 1, 2, 4))``: ``style='pytorch'`` for torchvision weights,
``style='caffe'`` (stride in the 1x1 conv) for DeepLab v2 / ProDA ports. mmseg's stem
max-pool uses floor mode where the DeepLab ports use ceil mode (e.g. 129 x 257 instead
of 128 x 256 outputs for a 512 x 1024 input): weights transfer, grids differ by a pixel.

Checks against the target model (``--config``: an mmseg config whose ``model`` is an
EncoderDecoder, or a wrapper with ``model.segmentor``; otherwise the reference model
above, with C read from the source): the tool refuses, listing the keys, when a source
key matches no rule (``--skip PREFIX`` drops keys deliberately), when a converted key
is not in the target, or when a shape differs. ``--strict`` also refuses when the
result leaves target parameters uncovered (BatchNorm ``num_batches_tracked`` excepted).
The output is an mmengine checkpoint ``{'state_dict': ..., 'meta': ...}`` for
``load_from`` (or ``init_cfg=dict(type='Pretrained', prefix='backbone.', ...)``).
"""
import argparse
import re
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

StateDict = Dict[str, Tensor]
CONTAINER_KEYS = ('state_dict', 'model_state', 'model', 'ResNet101')
PREFIXES = ('module.', 'Scale.')
DROPPED = re.compile(r'^fc\.(weight|bias)$')
BACKBONE_RULE = (
    r'^(conv1\.weight|bn1\.\w+|layer[1-4]\.\d+\.'
    r'(conv[1-3]\.weight|bn[1-3]\.\w+|downsample\.0\.weight|downsample\.1\.\w+))$',
    r'backbone.\g<0>')
# (pattern, replacement) pairs of each head layout, tried after BACKBONE_RULE.
HEAD_RULES: Dict[str, List[Tuple[str, str]]] = {
    'deeplabv2': [
        (r'^layer5\.conv2d_list\.(\d+)\.(weight|bias)$',
         r'decode_head.aspp_branches.\1.\2'),
    ],
    'deeplabv2_se': [
        (r'^layer5\.conv2d_list\.(\d+)\.0\.(weight|bias)$',
         r'decode_head.aspp_branches.\1.conv.\2'),
        (r'^layer5\.conv2d_list\.(\d+)\.1\.(weight|bias)$',
         r'decode_head.aspp_branches.\1.gn.\2'),
        (r'^layer5\.bottleneck\.0\.se\.0\.(weight|bias)$',
         r'decode_head.squeeze_excitation.reduce.\1'),
        (r'^layer5\.bottleneck\.0\.se\.2\.(weight|bias)$',
         r'decode_head.squeeze_excitation.expand.\1'),
        (r'^layer5\.bottleneck\.1\.(weight|bias)$', r'decode_head.bottleneck.conv.\1'),
        (r'^layer5\.bottleneck\.2\.(weight|bias)$', r'decode_head.bottleneck.gn.\1'),
        (r'^layer5\.head\.1\.weight$', r'decode_head.conv_seg.weight'),
    ],
    'resnet': [],
}


class ConversionError(RuntimeError):
    """The source does not convert cleanly; the message lists the offending keys."""


@dataclass
class Conversion:
    """Result of :func:`convert_state_dict`."""
    state_dict: StateDict
    layout: str
    num_classes: Optional[int]
    dropped: List[str] = field(default_factory=list)
    unknown: List[str] = field(default_factory=list)


def load_source(path: str, allow_pickle: bool = False) -> StateDict:
    """Read a checkpoint and return its model state dict (container keys unwrapped)."""
    try:
        obj = torch.load(path, map_location='cpu', weights_only=not allow_pickle)
    except Exception as err:  # torch raises several types for disallowed pickles
        raise ConversionError(
            f'{path}: cannot be read as a tensors-only checkpoint ({err}). If you trust '
            f'the file, pass --allow-pickle (it runs arbitrary code from the pickle).'
        ) from err
    return unwrap(obj, path)


def unwrap(obj: object, path: str) -> StateDict:
    """Descend through ``CONTAINER_KEYS`` until a dict of tensors is reached."""
    while isinstance(obj, dict) and not all(isinstance(v, Tensor) for v in obj.values()):
        key = next((k for k in CONTAINER_KEYS if k in obj), None)
        if key is None:
            raise ConversionError(
                f'{path}: no state dict found: top-level keys {sorted(map(str, obj))[:20]} '
                f'contain none of {CONTAINER_KEYS}')
        obj = obj[key]
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f'{path}: no state dict found (got {type(obj).__name__})')
    return obj


def strip_prefixes(state: StateDict) -> StateDict:
    """Remove leading ``module.`` (any number) and ``Scale.`` from every key."""
    out = {}
    for key, value in state.items():
        while key.startswith(PREFIXES):
            key = key.split('.', 1)[1]
        out[key] = value
    return out


def detect_layout(state: StateDict) -> str:
    """'deeplabv2_se', 'deeplabv2' or 'resnet' from the (prefix-stripped) keys."""
    if any(re.match(r'^layer5\.conv2d_list\.\d+\.0\.weight$', k) for k in state):
        return 'deeplabv2_se'
    if any(re.match(r'^layer5\.conv2d_list\.\d+\.weight$', k) for k in state):
        return 'deeplabv2'
    return 'resnet'


def num_classes_of(state: StateDict, layout: str) -> Optional[int]:
    """Number of classes C of the source classifier (None for a bare ResNet)."""
    if layout == 'deeplabv2':
        return state['layer5.conv2d_list.0.weight'].shape[0]
    if layout == 'deeplabv2_se':
        if 'layer5.head.1.weight' not in state:
            raise ConversionError('deeplabv2_se layout without layer5.head.1.weight '
                                  '(the classifier); --skip layer5 converts the backbone only')
        return state['layer5.head.1.weight'].shape[0]
    return None


def convert_state_dict(state: StateDict, skip: Sequence[str] = (),
                       sum_branches: Optional[int] = None) -> Conversion:
    """Map source keys to target keys (no check against a target model).

    Args:
        state: source state dict (prefixes may still be present).
        skip: key prefixes (after prefix stripping) to drop deliberately.
        sum_branches: deeplabv2 only: keep the first N branches, zero the others.
    """
    state = strip_prefixes(state)
    kept = {k: v for k, v in state.items() if not k.startswith(tuple(skip))}
    result = Conversion({}, detect_layout(kept), None, sorted(set(state) - set(kept)))
    result.num_classes = num_classes_of(kept, result.layout)
    rules = [(re.compile(p), r) for p, r in [BACKBONE_RULE] + HEAD_RULES[result.layout]]
    for key, value in kept.items():
        if DROPPED.match(key):
            result.dropped.append(key)
            continue
        for pattern, template in rules:
            match = pattern.match(key)
            if match:
                result.state_dict[match.expand(template)] = value
                break
        else:
            result.unknown.append(key)
    converted = result.state_dict
    if result.layout == 'deeplabv2':
        _identity_classifier(converted, result.num_classes)
        if sum_branches is not None:
            _zero_branches_from(converted, sum_branches)
    elif sum_branches is not None:
        raise ConversionError(f'--sum-branches applies to the deeplabv2 layout, '
                              f'not to {result.layout!r}')
    if result.layout == 'deeplabv2_se':
        weight = converted['decode_head.conv_seg.weight']
        converted['decode_head.conv_seg.bias'] = weight.new_zeros(weight.shape[0])
    result.dropped.sort()
    return result


def _identity_classifier(converted: StateDict, num_classes: int) -> None:
    """conv_seg = identity (C, C, 1, 1), bias 0: the head's output is the branch sum."""
    dtype = converted['decode_head.aspp_branches.0.weight'].dtype
    eye = torch.eye(num_classes, dtype=dtype).reshape(num_classes, num_classes, 1, 1)
    converted['decode_head.conv_seg.weight'] = eye
    converted['decode_head.conv_seg.bias'] = torch.zeros(num_classes, dtype=dtype)


def _zero_branches_from(converted: StateDict, first_zeroed: int) -> None:
    """Zero the weights and biases of branches >= first_zeroed (so they add nothing)."""
    found = False
    for key in list(converted):
        match = re.match(r'^decode_head\.aspp_branches\.(\d+)\.', key)
        if match and int(match.group(1)) >= first_zeroed:
            converted[key] = torch.zeros_like(converted[key])
            found = True
    if not found:
        raise ConversionError(f'--sum-branches {first_zeroed}: the source has no branch '
                              f'with index >= {first_zeroed}')


def reference_model_cfg(layout: str, num_classes: Optional[int]) -> dict:
    """The mmseg model the converted keys belong to when no --config is given."""
    backbone = dict(
        type='ResNet', depth=101, num_stages=4, out_indices=(3, ),
        strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
        style='pytorch' if layout == 'resnet' else 'caffe',
        norm_cfg=dict(type='BN', requires_grad=True))
    cfg = dict(type='EncoderDecoder', backbone=backbone)
    if layout == 'deeplabv2':
        cfg['decode_head'] = dict(
            type='DeepLabV2Head', in_channels=2048, channels=num_classes,
            num_classes=num_classes, dropout_ratio=0.0)
    elif layout == 'deeplabv2_se':
        cfg['decode_head'] = dict(
            type='DeepLabV2SEHead', in_channels=2048, channels=256, num_classes=num_classes)
    return cfg


def target_shapes(model_cfg: dict) -> Dict[str, torch.Size]:
    """Shapes of every parameter and buffer of the model (built on the meta device)."""
    import cpsl_mmseg  # noqa: F401  (registers the DeepLab v2 heads)
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    shapes: Dict[str, torch.Size] = {}
    with torch.device('meta'):
        for part in ('backbone', 'decode_head'):
            if model_cfg.get(part) is not None:
                module = MODELS.build(dict(model_cfg[part]))
                shapes.update({f'{part}.{k}': v.shape
                               for k, v in module.state_dict().items()})
    return shapes


def model_cfg_from_config(path: str) -> dict:
    """``model`` (or ``model.segmentor`` of a UDA wrapper) of an mmseg config file."""
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    model = cfg.get('model')
    if model is None:
        raise ConversionError(f'{path}: config has no `model`')
    model = model.get('segmentor', model)
    if model.get('backbone') is None:
        raise ConversionError(f'{path}: `model` (or `model.segmentor`) has no `backbone`')
    return model.to_dict() if hasattr(model, 'to_dict') else dict(model)


def check(converted: StateDict, shapes: Dict[str, torch.Size], unknown: List[str],
          strict: bool) -> List[str]:
    """Problems that refuse the conversion (empty list: fine)."""
    problems = []
    if unknown:
        problems.append(f'{len(unknown)} source keys match no rule (use --skip PREFIX to '
                        f'drop them deliberately): {unknown}')
    extra = sorted(set(converted) - set(shapes))
    if extra:
        problems.append(f'{len(extra)} converted keys are not in the target model: {extra}')
    mismatched = [f'{k}: source {tuple(v.shape)} vs target {tuple(shapes[k])}'
                  for k, v in sorted(converted.items())
                  if k in shapes and v.shape != shapes[k]]
    if mismatched:
        problems.append(f'{len(mismatched)} shape mismatches: {mismatched}')
    if strict:
        missing = sorted(k for k in set(shapes) - set(converted)
                         if not k.endswith('num_batches_tracked'))
        if missing:
            problems.append(f'--strict: {len(missing)} target keys not covered: {missing}')
    return problems


def convert_checkpoint(src: str, dst: str, config: Optional[str] = None,
                       skip: Sequence[str] = (), sum_branches: Optional[int] = None,
                       strict: bool = False, allow_pickle: bool = False) -> StateDict:
    """Convert ``src`` to an mmengine checkpoint at ``dst``; raise ConversionError on
    any problem, writing nothing. Returns the converted state dict."""
    result = convert_state_dict(load_source(src, allow_pickle), skip, sum_branches)
    if config is not None:
        model_cfg = model_cfg_from_config(config)
    else:
        model_cfg = reference_model_cfg(result.layout, result.num_classes)
    problems = check(result.state_dict, target_shapes(model_cfg), result.unknown, strict)
    if problems:
        raise ConversionError(f'{src} ({result.layout} layout) does not convert:\n  ' +
                              '\n  '.join(problems))
    meta = dict(source=src, layout=result.layout, dropped=result.dropped,
                converter='cpsl_mmseg tools/convert_weights.py')
    torch.save(dict(state_dict=result.state_dict, meta=meta), dst)
    print(f'{src}: {result.layout} layout, {len(result.state_dict)} tensors written to '
          f'{dst}; dropped {result.dropped if result.dropped else "nothing"}')
    if config is None:
        print(f'target model: {model_cfg}')
    return result.state_dict


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument('--config', help='mmseg config of the target model '
                        '(default: the reference ResNet-101 + DeepLab v2 head)')
    parser.add_argument('--skip', action='append', default=[], metavar='PREFIX',
                        help='drop source keys starting with PREFIX (after stripping '
                        'module./Scale.); repeatable, e.g. --skip layer5 --skip bn_pretrain')
    parser.add_argument('--sum-branches', type=int, metavar='N',
                        help='deeplabv2 layout: keep branches 0..N-1, zero the others')
    parser.add_argument('--strict', action='store_true',
                        help='also refuse when target parameters are left uncovered')
    parser.add_argument('--allow-pickle', action='store_true',
                        help='load a checkpoint holding non-tensor objects (trusted files only)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        convert_checkpoint(args.src, args.dst, args.config, args.skip, args.sum_branches,
                           args.strict, args.allow_pickle)
    except ConversionError as err:
        print(f'convert_weights: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
