"""Momentum (EMA) updates of teacher networks (paper Sec. 3.4, Algorithm 1 l. 16, 20)."""
import torch
from torch import nn


@torch.no_grad()
def momentum_update_(ema_module: nn.Module, module: nn.Module,
                     momentum: float) -> None:
    """In place: ``ema = (1 - momentum) * ema + momentum * src`` for parameters.

    ``momentum`` follows mmengine's convention (the paper's EMA decay 0.999 is
    ``momentum=0.001``; ``momentum=1`` copies). Buffers (BN running statistics,
    counters) are copied, as in the reference implementation.

    Raises:
        ValueError: when the two modules do not have the same parameter names.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f'momentum must be in [0, 1], got {momentum}')
    ema_params = dict(ema_module.named_parameters())
    src_params = dict(module.named_parameters())
    if ema_params.keys() != src_params.keys():
        missing = sorted(set(src_params) ^ set(ema_params))[:5]
        raise ValueError(f'EMA and source modules differ, e.g. {missing}')
    for name, src in src_params.items():
        ema_params[name].lerp_(src.detach(), momentum)
    ema_buffers = dict(ema_module.named_buffers())
    for name, src in module.named_buffers():
        ema_buffers[name].copy_(src)
