"""Capturing the pixel feature Z (the decode head's pre-classifier feature)."""
from contextlib import contextmanager
from typing import Iterator, List

import torch
from torch import nn


def pre_classifier_module(decode_head: nn.Module) -> nn.Module:
    """The module whose *input* is Z: the head's dropout if it has one, else its
    1x1 classifier ``conv_seg``.

    Every mmseg ``BaseDecodeHead`` ends in ``cls_seg`` = dropout (when
    ``dropout_ratio > 0``) then ``conv_seg``; capturing the dropout's input gives the
    feature before dropout, so a teacher left in train mode (reference-code variant)
    still yields un-dropped features.

    Raises:
        TypeError: naming the head type when it has no ``conv_seg`` classifier.
    """
    conv_seg = getattr(decode_head, 'conv_seg', None)
    if not isinstance(conv_seg, nn.Module):
        raise TypeError(
            f'{type(decode_head).__name__} has no `conv_seg` classifier, so CPSL '
            'cannot find its pre-classifier feature Z. Use a head derived from '
            "mmseg's BaseDecodeHead that ends in cls_seg(feat).")
    dropout = getattr(decode_head, 'dropout', None)
    return dropout if isinstance(dropout, nn.Module) else conv_seg


def feature_dim(decode_head: nn.Module) -> int:
    """D, the channel count of Z (the input channels of ``conv_seg``)."""
    pre_classifier_module(decode_head)
    return int(decode_head.conv_seg.in_channels)


@contextmanager
def capture_pre_classifier_feature(
        decode_head: nn.Module,
        after_dropout: bool = False) -> Iterator[List[torch.Tensor]]:
    """Within the block, every forward of ``decode_head`` appends its Z, a
    (B, D, h, w) tensor, to the yielded list: the classifier's input before dropout,
    or after it when ``after_dropout`` (what the reference code's teacher in train
    mode gives; the same tensor in eval mode or for a head without dropout)."""
    captured: List[torch.Tensor] = []
    module = pre_classifier_module(decode_head)

    def before(module: nn.Module, args: tuple) -> None:
        captured.append(args[0])

    def after(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        captured.append(output)

    if after_dropout and module is not decode_head.conv_seg:
        handle = module.register_forward_hook(after)
    else:
        handle = module.register_forward_pre_hook(before)
    try:
        yield captured
    finally:
        handle.remove()


@contextmanager
def capture_outputs(module: nn.Module) -> Iterator[List[object]]:
    """Within the block, every forward of ``module`` appends its output to the yielded
    list (e.g. a backbone's tuple of multi-level feature maps)."""
    captured: List[object] = []
    handle = module.register_forward_hook(
        lambda module, args, output: captured.append(output))
    try:
        yield captured
    finally:
        handle.remove()
