"""Freezing batch-norm statistics during adaptation.

A network trained on the source domain carries source-domain BN running statistics;
a segmentor that adapts online makes them drift further: its running statistics
average the source batch, the strongly augmented target view and the CutMix pastes,
none of which is the clean target image it is evaluated on. ``freeze_batch_norm``
keeps the statistics it was loaded with (e.g. re-estimated on target images
beforehand) while the affine weights still train; the paper-scale DeepLabV2 configs
keep their BN statistics fixed too, with ``norm_eval=True``.
"""
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def batch_norm_layers(module: nn.Module) -> list:
    """The ``_BatchNorm`` layers (BN, SyncBN, ...) of ``module`` that track
    running statistics."""
    return [
        m for m in module.modules()
        if isinstance(m, _BatchNorm) and m.track_running_stats
    ]


def batch_norm_buffer_names(module: nn.Module) -> list:
    """Names (as in ``module.state_dict()``) of the BatchNorm buffers of ``module``:
    running statistics and counters. Under DDP without SyncBN each rank keeps its own."""
    names = []
    for prefix, sub in module.named_modules():
        if isinstance(sub, _BatchNorm):
            names += [f'{prefix}.{name}' if prefix else name
                      for name, _ in sub.named_buffers(recurse=False)]
    return names


def freeze_batch_norm(module: nn.Module) -> None:
    """Put every BN layer of ``module`` in eval mode: it normalises with, and no
    longer updates, its running statistics; its affine weights keep training.

    Call it after each ``module.train()`` (a segmentor's ``train`` override)."""
    for m in batch_norm_layers(module):
        m.eval()
