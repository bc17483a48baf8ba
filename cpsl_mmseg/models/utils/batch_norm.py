"""Batch-norm statistics for domain adaptation: target calibration and freezing.

A network trained on the source domain carries source-domain BN running statistics
(mean, variance per channel). On a target domain of another appearance these
statistics are wrong, and a segmentor that adapts online makes them worse: its
running statistics average the source batch, the strongly augmented target view and
the CutMix pastes, none of which is the clean target image it is evaluated on.

``recalibrate_batch_norm`` re-estimates the running statistics on target images
(the average over the given batches, weights untouched); ``freeze_batch_norm``
keeps them fixed while the affine weights still train (the paper-scale DeepLabV2
configs keep their BN statistics fixed too, with ``norm_eval=True``).
"""
from typing import Iterable

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


def batch_norm_layers(module: nn.Module) -> list:
    """The ``_BatchNorm`` layers (BN, SyncBN, ...) of ``module`` that track
    running statistics."""
    return [
        m for m in module.modules()
        if isinstance(m, _BatchNorm) and m.track_running_stats
    ]


@torch.no_grad()
def recalibrate_batch_norm(network: nn.Module, batches: Iterable[Tensor]) -> int:
    """Replace the BN running statistics of ``network`` by those of ``batches``.

    Every batch (B, 3, H, W), already normalised by the data preprocessor, runs
    through ``network(batch)`` (an mmseg ``EncoderDecoder`` called with a tensor
    runs its backbone and decode head) in train mode with cumulative averaging
    (``momentum=None``): each running mean and variance becomes the equal-weight
    average of the per-batch statistics, independent of the batch order.
    Weights, the training flag and each layer's momentum are restored.

    Returns:
        The number of BN layers recalibrated.

    Raises:
        ValueError: when ``batches`` is empty (the statistics would be lost).
    """
    layers = batch_norm_layers(network)
    momenta = [m.momentum for m in layers]
    was_training = network.training
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
    network.train()
    seen = 0
    try:
        for batch in batches:
            network(batch)
            seen += 1
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        network.train(was_training)
    if seen == 0:
        raise ValueError('recalibrate_batch_norm got no batch')
    return len(layers)


def freeze_batch_norm(module: nn.Module) -> None:
    """Put every BN layer of ``module`` in eval mode: it normalises with, and no
    longer updates, its running statistics; its affine weights keep training.

    Call it after each ``module.train()`` (a segmentor's ``train`` override)."""
    for m in batch_norm_layers(module):
        m.eval()
