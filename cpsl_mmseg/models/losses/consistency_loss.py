"""Consistency regularisation between weak and strong views (CPSL Eq. 13)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmseg.registry import MODELS


@MODELS.register_module()
class ConsistencyLoss(nn.Module):
    """Per-pixel ``KL(P_w || P_s) + KL(P_s || P_w)`` averaged over valid pixels (Eq. 13).

    P_w = softmax of the teacher (momentum network, weak view), treated as a constant;
    P_s = softmax of the student (strong view).

    Args:
        symmetric: both KL directions as in the paper; False keeps ``KL(P_w || P_s)``.
        loss_weight: factor applied to the loss (lambda_2 of Eq. 14 when used alone).
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self,
                 symmetric: bool = True,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_reg') -> None:
        super().__init__()
        self.symmetric = symmetric
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                student_logits: Tensor,
                teacher_logits: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Args: (B, C, H, W) student and teacher logits, optional (B, H, W) bool mask.

        Returns:
            Scalar; zero (still attached to ``student_logits``) when no pixel is valid.
        """
        if student_logits.dim() != 4 or student_logits.shape != teacher_logits.shape:
            raise ValueError('ConsistencyLoss: student and teacher logits must both be '
                             f'(B, C, H, W), got {tuple(student_logits.shape)} and '
                             f'{tuple(teacher_logits.shape)}')
        log_s = F.log_softmax(student_logits, dim=1)
        log_w = F.log_softmax(teacher_logits.detach().to(student_logits.dtype), dim=1)
        diff = log_w - log_s
        per_pixel = (log_w.exp() * diff).sum(dim=1)  # KL(P_w || P_s)
        if self.symmetric:
            per_pixel = per_pixel - (log_s.exp() * diff).sum(dim=1)  # + KL(P_s || P_w)
        if valid_mask is None:
            valid_mask = torch.ones_like(per_pixel, dtype=torch.bool)
        elif valid_mask.shape != per_pixel.shape:
            raise ValueError(f'ConsistencyLoss: valid_mask must be {tuple(per_pixel.shape)}, '
                             f'got {tuple(valid_mask.shape)}')
        total = torch.where(valid_mask.bool(), per_pixel, torch.zeros_like(per_pixel)).sum()
        return self.loss_weight * total / valid_mask.sum().clamp(min=1)

    @property
    def loss_name(self) -> str:
        return self._loss_name
