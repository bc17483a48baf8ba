"""Pseudo-label quality weighting (DAFormer, after DACS): the target loss of an image
is weighted by the share of its pixels whose pseudo label is confident.

DAFormer (``dacs.py``): with the teacher's max softmax p, the weight is the share of
pixels with ``p >= 0.968``, taken over the whole batch (one number for the batch),
written into every target pixel; pixels pasted from the source keep weight 1. Its
GTA5 -> Cityscapes config also zeroes the weight of the crop's top 15 and bottom 120
rows ("pseudo-label crop": rectification artefacts and the ego car), after the share
is computed, so those rows still count in it.

Here the share is taken per image by default (``per='batch'``: DAFormer's), over the
image's valid (not padded) pixels; the top/bottom rows are options (default: none).
"""
import torch
from torch import Tensor

WEIGHT_SCOPES = ('image', 'batch')


class PseudoLabelQualityWeight:
    """The (B, H, W) weight map of the target loss; errors name ``config_key``.

    Args:
        threshold: confidence a pixel needs to count as confident (DAFormer: 0.968).
        per: ``'image'`` (default) or ``'batch'`` (DAFormer's code).
        ignore_top / ignore_bottom: rows of the crop whose weight is 0 (DAFormer's
            GTA5 -> Cityscapes config: 15 and 120 at 512x512 crops; default 0).
    """

    def __init__(self, threshold: float = 0.968, per: str = 'image', ignore_top: int = 0,
                 ignore_bottom: int = 0, config_key: str = 'model.pseudo_label_weighting'
                 ) -> None:
        if not 0 <= threshold <= 1:
            raise ValueError(f'{config_key}.threshold must lie in [0, 1], got {threshold}')
        if per not in WEIGHT_SCOPES:
            raise ValueError(f'{config_key}.per must be one of {WEIGHT_SCOPES}, got {per!r}')
        if min(ignore_top, ignore_bottom) < 0:
            raise ValueError(f'{config_key}.ignore_top / ignore_bottom must be >= 0, got '
                             f'{ignore_top}, {ignore_bottom}')
        self.threshold = threshold
        self.per = per
        self.ignore_top = ignore_top
        self.ignore_bottom = ignore_bottom

    @torch.no_grad()
    def __call__(self, confidence: Tensor, valid: Tensor) -> Tensor:
        """Weights (B, H, W) from the pseudo labels' ``confidence`` (B, H, W) and the
        ``valid`` (B, H, W) bool pixels: each image's (or the batch's) share of valid
        pixels with ``confidence >= threshold``, the ignored rows set to 0."""
        confident = (confidence >= self.threshold) & valid
        dims = (1, 2) if self.per == 'image' else (0, 1, 2)
        share = confident.sum(dim=dims, keepdim=True).float() / valid.sum(
            dim=dims, keepdim=True).clamp(min=1).float()
        weight = share.expand_as(confidence).clone()
        if self.ignore_top:
            weight[:, :self.ignore_top] = 0
        if self.ignore_bottom:
            weight[:, weight.shape[1] - self.ignore_bottom:] = 0
        return weight
