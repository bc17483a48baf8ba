"""Supervised contrast of student pixel features against the memory bank (a term of
the authors' code, not of the paper; weight 0.001 there).

For an anchor feature f with rectified label y and bank rows k_j with labels y_j,
all L2-normalised, let ``s_j = f . k_j / tau``. Each positive j (y_j = y) is scored
against the anchor's negatives only::

    log p_j = s_j - log(exp(s_j) + sum_{i: y_i != y} exp(s_i))

and the anchor's loss is ``-mean_{positives j} log p_j`` (0 without positives, with
the reference's 1e-5 in the denominator). The loss is the mean over anchors.
"""
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class BankContrastiveLoss(nn.Module):
    """Args:
        temperature: tau of the scores (the reference uses the head's 0.08).
        samples_per_image: anchor pixels drawn per image (the reference: 256).
        loss_weight: factor of the loss (the reference: 0.001).
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self, temperature: float = 0.08, samples_per_image: int = 256,
                 loss_weight: float = 0.001, loss_name: str = 'loss_contrast') -> None:
        super().__init__()
        if not temperature > 0 or samples_per_image < 1:
            raise ValueError('BankContrastiveLoss: temperature must be > 0 and '
                             f'samples_per_image >= 1, got {temperature}, '
                             f'{samples_per_image}')
        self.temperature = temperature
        self.samples_per_image = samples_per_image
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, anchors: Tensor, anchor_labels: Tensor, bank: Tensor,
                bank_labels: Tensor) -> Tensor:
        """Args: (n, D) anchor features and (n,) labels, (L, D) bank rows and (L,)
        labels. Returns a scalar (zero, attached to ``anchors``, without anchors)."""
        if anchors.shape[0] == 0 or bank.shape[0] == 0:
            return anchors.sum() * 0.0
        scores = F.normalize(anchors, dim=1) @ F.normalize(bank, dim=1).t().to(anchors)
        scores = scores / self.temperature
        scores = scores - scores.max(dim=1, keepdim=True).values.detach()
        positive = (anchor_labels[:, None] == bank_labels[None, :]).to(scores)
        negatives = (scores.exp() * (1 - positive)).sum(dim=1, keepdim=True)
        log_prob = scores - torch.log(scores.exp() + negatives)
        per_anchor = -(positive * log_prob).sum(dim=1) / (positive.sum(dim=1) + 1e-5)
        return self.loss_weight * per_anchor.mean()

    @property
    def loss_name(self) -> str:
        return self._loss_name
