"""Self-labeling loss (CPSL Eq. 5): cross-entropy against soft Sinkhorn assignments."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmseg.registry import MODELS


@MODELS.register_module()
class SelfLabelingLoss(nn.Module):
    """``L_SL = -1/M sum_m sum_c q_m^c log p_m^c`` with p = softmax(logits) (Eq. 4-5).

    Args:
        loss_weight: factor applied to the loss (lambda_1 of Eq. 14 when used alone).
        loss_name: key of the loss in the losses dict (must start with ``loss_`` to be
            summed by mmengine).
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_sl') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, logits: Tensor, assignments: Tensor,
                valid: Optional[Tensor] = None) -> Tensor:
        """Mean soft-target cross-entropy over the valid rows.

        Args:
            logits: (N, C) head logits ``f_SL(z) / tau``.
            assignments: (N, C) Sinkhorn assignments Q (rows sum to 1); detached.
            valid: optional (N,) bool; rows where it is False do not count.

        Returns:
            Scalar loss; zero (still attached to ``logits``) when no row is valid.
        """
        if logits.dim() != 2 or logits.shape != assignments.shape:
            raise ValueError('SelfLabelingLoss: logits and assignments must both be (N, C), '
                             f'got {tuple(logits.shape)} and {tuple(assignments.shape)}')
        per_row = -(assignments.detach().to(logits.dtype) * F.log_softmax(logits, dim=1)).sum(1)
        if valid is None:
            valid = torch.ones_like(per_row, dtype=torch.bool)
        elif valid.shape != per_row.shape:
            raise ValueError(f'SelfLabelingLoss: valid must be ({logits.shape[0]},), '
                             f'got {tuple(valid.shape)}')
        total = torch.where(valid, per_row, torch.zeros_like(per_row)).sum()
        return self.loss_weight * total / valid.sum().clamp(min=1)

    @property
    def loss_name(self) -> str:
        return self._loss_name
