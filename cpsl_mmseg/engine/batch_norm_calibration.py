"""Re-estimating a network's batch-norm statistics on target images (the pipeline's
``bn_calibration`` stage, "source-only + target BN"; ``tools/calibrate_batch_norm.py``).

A network trained from scratch with BN layers on the source domain carries
source-domain running statistics; on a target domain of another appearance they are
far off. ``recalibrate_batch_norm`` replaces them by the average statistics of target
batches (weights untouched); adaptation then keeps them with
``model.freeze_norm_statistics=True``.
"""
from typing import Iterable

import torch
from torch import Tensor, nn

from ..models.utils.batch_norm import batch_norm_layers


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
