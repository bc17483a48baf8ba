"""Momentum (EMA) updates, the one place they happen (paper Sec. 3.4, Algorithm 1
l. 16 and 20: the momentum segmentation network f'_SEG and the momentum head f'_SL).

One convention everywhere, mmengine's: ``momentum`` is the weight of the *new* value,
``average = (1 - momentum) * average + momentum * value``. The paper's EMA decay 0.999
is ``momentum=0.001``; ``momentum=1`` copies (the w/o-Mom ablation of Table 3).

mmengine's ``ExponentialMovingAverage`` implements the same rule, but as a wrapper
module (state-dict keys ``teacher.module.*`` plus a step counter) that refuses
``momentum=1`` and copies instead of averaging on its first update; a teacher that is a
plain copy of the student keeps checkpoints readable as segmentors and the ablation
expressible, so the rule is written here once instead.
"""
from typing import Iterable, Tuple

import torch
from torch import Tensor, nn


def check_momentum(momentum: float, config_key: str) -> float:
    """``momentum`` if it lies in [0, 1]; ValueError naming ``config_key`` otherwise."""
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f'{config_key} must lie in [0, 1] (the weight of the new '
                         f'value), got {momentum}')
    return momentum


def rampup_momentum(update: int, momentum: float) -> float:
    """The momentum of the ``update``-th EMA update (1-based) under DAFormer's ramp-up.

    DAFormer's teacher uses the decay ``min(1 - 1 / (t + 1), alpha)`` at its t-th
    update: an average of all student states so far while t is small, the fixed decay
    alpha afterwards. In this module's convention (weight of the new value) that is
    ``max(1 / (t + 1), momentum)``, with ``momentum = 1 - alpha``.
    """
    if update < 1:
        raise ValueError(f'EMA updates are counted from 1, got {update}')
    return max(1.0 / (update + 1), momentum)


@torch.no_grad()
def ema_update_(pairs: Iterable[Tuple[Tensor, Tensor]], momentum: float) -> None:
    """In place, for every ``(average, value)`` pair:
    ``average = (1 - momentum) * average + momentum * value``."""
    for average, value in pairs:
        average.lerp_(value.detach(), momentum)


@torch.no_grad()
def momentum_update_(ema_module: nn.Module, module: nn.Module,
                     momentum: float) -> None:
    """EMA of ``module``'s parameters into ``ema_module`` (:func:`ema_update_`).

    Buffers (BN running statistics, counters) are copied, as in the reference
    implementation.

    Raises:
        ValueError: when the two modules do not have the same parameter names.
    """
    check_momentum(momentum, 'momentum')
    ema_params = dict(ema_module.named_parameters())
    src_params = dict(module.named_parameters())
    if ema_params.keys() != src_params.keys():
        missing = sorted(set(src_params) ^ set(ema_params))[:5]
        raise ValueError(f'EMA and source modules differ, e.g. {missing}')
    ema_update_(((ema_params[name], src) for name, src in src_params.items()),
                momentum)
    ema_buffers = dict(ema_module.named_buffers())
    for name, src in module.named_buffers():
        ema_buffers[name].copy_(src)
