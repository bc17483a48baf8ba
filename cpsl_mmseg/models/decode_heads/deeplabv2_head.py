"""DeepLab v2 decode heads: the original ASPP-sum classifier and the reference code's
SE variant with a 256-d pre-classifier feature.

Both heads end in ``self.cls_seg(feat)`` (dropout, then the 1x1 classifier ``conv_seg``),
so the pixel feature Z of the paper (the input of the self-labeling head, Eq. 4 and 7)
is the input of ``conv_seg``: a forward pre-hook on ``conv_seg`` sees a
(B, channels, H, W) tensor, H x W being the backbone's output resolution.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_conv_layer
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """Original DeepLab v2 classifier: parallel 3x3 dilated convs whose outputs are summed.

    The original head maps the backbone feature (B, in_channels, H, W) straight to class
    scores with one 3x3 conv per dilation (6, 12, 18, 24) and sums them; it has no
    pre-classifier feature. Here every branch maps ``in_channels`` to ``channels``
    (plain conv with bias, no norm, no activation, as in the original), the branch sum
    is the feature Z of shape (B, channels, H, W), and ``cls_seg`` (dropout, 1x1
    ``conv_seg``) maps Z to (B, num_classes, H, W).

    Why this factorisation: the composition of the summed linear branches and the linear
    1x1 classifier is again a sum of dilated 3x3 convs, of rank at most ``channels``.
    With ``channels >= num_classes`` and ``dropout_ratio=0`` it expresses exactly the
    original head's functions; with ``channels == num_classes`` and ``conv_seg`` set to
    the identity (what ``tools/convert_weights.py`` writes) it *is* the original head,
    and Z equals the original logits. Choose a larger ``channels`` (e.g. 256) when the
    self-labeling head should see a wider feature than C logits. Z is linear in the
    backbone feature; use :class:`DeepLabV2SEHead` for the paper's non-linear 256-d Z.

    Args:
        dilations: dilation (and padding) of each 3x3 branch.
        **kwargs: :class:`BaseDecodeHead` arguments (``in_channels``, ``channels``,
            ``num_classes``, ``dropout_ratio``, ``conv_cfg``, ...). ``norm_cfg`` and
            ``act_cfg`` are not used: the original branches are bare convs.
    """

    def __init__(self, dilations: Sequence[int] = (6, 12, 18, 24), **kwargs) -> None:
        kwargs.setdefault('init_cfg', dict(type='Normal', std=0.01, layer='Conv2d'))
        super().__init__(**kwargs)
        if len(dilations) == 0:
            raise ValueError('DeepLabV2Head: `dilations` must name at least one branch')
        self.dilations = tuple(dilations)
        self.aspp_branches = nn.ModuleList(
            build_conv_layer(
                self.conv_cfg, self.in_channels, self.channels, kernel_size=3,
                padding=d, dilation=d, bias=True) for d in self.dilations)

    def _forward_feature(self, inputs: List[Tensor]) -> Tensor:
        """Feature Z: the branch sum, (B, in_channels, H, W) -> (B, channels, H, W)."""
        x = self._transform_inputs(inputs)
        feat = self.aspp_branches[0](x)
        for branch in self.aspp_branches[1:]:
            feat = feat + branch(x)
        return feat

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Class scores (B, num_classes, H, W)."""
        return self.cls_seg(self._forward_feature(inputs))


class SqueezeExcitation(nn.Module):
    """Channel gating: x * sigmoid(W2 relu(W1 avgpool(x))), (B, C, H, W) -> same shape.

    Fully connected layers (``reduce``: C -> C // ratio, ``expand``: C // ratio -> C),
    matching the reference code's SE block so its weights convert one to one.
    """

    def __init__(self, channels: int, ratio: int = 16) -> None:
        super().__init__()
        if channels // ratio < 1:
            raise ValueError(
                f'SqueezeExcitation: channels={channels} too small for ratio={ratio}')
        self.reduce = nn.Linear(channels, channels // ratio)
        self.expand = nn.Linear(channels // ratio, channels)

    def forward(self, x: Tensor) -> Tensor:
        squeezed = x.mean(dim=(2, 3))
        gate = torch.sigmoid(self.expand(torch.relu(self.reduce(squeezed))))
        return x * gate[:, :, None, None]


@MODELS.register_module()
class DeepLabV2SEHead(BaseDecodeHead):
    """DeepLab v2 ASPP variant of the CPSL/ProDA reference code, with a 256-d feature Z.

    Shapes for input (B, in_channels, H, W), with ``channels`` = 256 in the paper:
    five branches (one 1x1 conv, four 3x3 convs dilated 6/12/18/24), each conv + norm +
    ReLU to (B, channels, H, W); concatenated to (B, 5 * channels, H, W); gated by a
    squeeze-excitation block (reduction 16); a 3x3 conv + norm to (B, channels, H, W):
    this is the feature Z of the paper (Eq. 4 and 7), the input of ``cls_seg``
    (dropout 0.1, then the 1x1 classifier ``conv_seg``).

    Normalisation: GroupNorm with 32 groups by default (8 channels per group at 256
    channels). The reference code uses exactly this, and a batch-independent norm is
    what the paper's setting needs: one image per GPU, so batch statistics of BN would
    come from a single crop. Override with ``norm_cfg`` (e.g. ``num_groups=8`` for a
    narrow toy head); ``channels`` must be divisible by ``num_groups``.

    Convs carry biases (as in the reference code; with GroupNorm a per-channel bias is
    not absorbed by the normalisation). The reference code applies no activation
    after the bottleneck norm, so Z can be negative; ``bottleneck_act=True`` adds a
    ReLU after it (then every cosine similarity between Z and prototypes is >= 0).

    Args:
        dilations: dilations of the 3x3 branches; a 1x1 branch is always added first.
        se_ratio: channel reduction of the squeeze-excitation block.
        bottleneck_act: apply ``act_cfg`` after the bottleneck norm (default False,
            as in the reference code).
        **kwargs: :class:`BaseDecodeHead` arguments; ``norm_cfg`` defaults to
            ``dict(type='GN', num_groups=32, requires_grad=True)``.
    """

    def __init__(self,
                 dilations: Sequence[int] = (6, 12, 18, 24),
                 se_ratio: int = 16,
                 bottleneck_act: bool = False,
                 **kwargs) -> None:
        kwargs.setdefault('norm_cfg', dict(type='GN', num_groups=32, requires_grad=True))
        kwargs.setdefault('dropout_ratio', 0.1)
        super().__init__(**kwargs)
        self.dilations = tuple(dilations)
        conv_kwargs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, bias=True)
        self.aspp_branches = nn.ModuleList([
            ConvModule(self.in_channels, self.channels, 1, act_cfg=self.act_cfg,
                       **conv_kwargs)
        ] + [
            ConvModule(self.in_channels, self.channels, 3, padding=d, dilation=d,
                       act_cfg=self.act_cfg, **conv_kwargs) for d in self.dilations
        ])
        concat_channels = self.channels * len(self.aspp_branches)
        self.squeeze_excitation = SqueezeExcitation(concat_channels, se_ratio)
        self.bottleneck = ConvModule(
            concat_channels, self.channels, 3, padding=1,
            act_cfg=self.act_cfg if bottleneck_act else None, **conv_kwargs)

    def _forward_feature(self, inputs: List[Tensor]) -> Tensor:
        """Feature Z: (B, in_channels, H, W) -> (B, channels, H, W)."""
        x = self._transform_inputs(inputs)
        concat = torch.cat([branch(x) for branch in self.aspp_branches], dim=1)
        return self.bottleneck(self.squeeze_excitation(concat))

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Class scores (B, num_classes, H, W)."""
        return self.cls_seg(self._forward_feature(inputs))

