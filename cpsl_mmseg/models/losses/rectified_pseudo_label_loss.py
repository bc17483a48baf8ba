"""Target-domain loss on rectified pseudo labels (CPSL Eq. 2), optionally symmetric.

The paper uses the pixel-wise cross-entropy of Eq. 2. The authors' code trains with
a symmetric cross-entropy instead: ``0.1 * CE + 1.0 * RCE``, where the reverse CE
``-sum_c p_c log y_c`` is taken on the one-hot label clamped at 1e-4, so ``log 0``
becomes ``log 1e-4 = -9.21`` and ``RCE = 9.21 * (1 - p_label)`` (the symmetric-CE
paper's own constant, -4, is not what the reference trains with).
Defaults follow the paper (``ce_weight=1, rce_weight=0``).
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmseg.registry import MODELS

# Value that stands for log(0) in the reverse cross-entropy: the reference code clamps
# the one-hot label at 1e-4 before its log.
LOG_ZERO = math.log(1e-4)


@MODELS.register_module()
class RectifiedPseudoLabelLoss(nn.Module):
    """``ce_weight * CE + rce_weight * RCE`` averaged over non-ignore pixels (Eq. 2).

    Args:
        ce_weight: weight of the cross-entropy term (reference code: 0.1).
        rce_weight: weight of the reverse cross-entropy term (reference code: 1.0).
        ignore_index: label of pixels that do not count.
        loss_weight: factor applied to the whole loss.
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self,
                 ce_weight: float = 1.0,
                 rce_weight: float = 0.0,
                 ignore_index: int = 255,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_tgt') -> None:
        super().__init__()
        self.ce_weight = ce_weight
        self.rce_weight = rce_weight
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, seg_logits: Tensor, labels: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Loss of (B, C, H, W) logits against (B, H, W) long labels at the same H, W.

        ``weight`` (B, H, W), optional: each pixel's loss is multiplied by it before
        the average over the non-ignored pixels (the pseudo-label quality weight of
        DAFormer: the denominator stays the pixel count).

        Returns:
            Scalar; zero (still attached to ``seg_logits``) when every pixel is ignored.
        """
        if (seg_logits.dim() != 4 or labels.dim() != 3 or labels.shape[0] != seg_logits.shape[0]
                or labels.shape[1:] != seg_logits.shape[2:]):
            raise ValueError('RectifiedPseudoLabelLoss: expected seg_logits (B, C, H, W) and '
                             f'labels (B, H, W), got {tuple(seg_logits.shape)} and '
                             f'{tuple(labels.shape)}')
        valid = labels != self.ignore_index
        safe_labels = torch.where(valid, labels, torch.zeros_like(labels)).long()
        log_prob = F.log_softmax(seg_logits, dim=1).gather(1, safe_labels.unsqueeze(1)).squeeze(1)
        per_pixel = self.ce_weight * -log_prob
        if self.rce_weight:
            per_pixel = per_pixel + self.rce_weight * -LOG_ZERO * (1.0 - log_prob.exp())
        if weight is not None:
            if weight.shape != labels.shape:
                raise ValueError('RectifiedPseudoLabelLoss: weight must be (B, H, W) like '
                                 f'the labels, got {tuple(weight.shape)}')
            per_pixel = per_pixel * weight
        total = torch.where(valid, per_pixel, torch.zeros_like(per_pixel)).sum()
        return self.loss_weight * total / valid.sum().clamp(min=1)

    @property
    def loss_name(self) -> str:
        return self._loss_name
