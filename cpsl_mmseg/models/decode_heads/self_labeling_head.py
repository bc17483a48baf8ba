"""Self-labeling head f_SL: cosine similarity to class prototypes (CPSL Eq. 4, 7).

The head holds a (C, D) prototype matrix. Scores are cosine similarities between
L2-normalised pixel features and L2-normalised prototypes; divided by the
temperature tau they are the logits of Eq. 4. A momentum (EMA) copy f'_SL of the
prototypes, kept as a buffer, produces the cluster probabilities P_SL used to
rectify pseudo labels (Eq. 1).
"""
import warnings

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..utils.ema import check_momentum, ema_update_


@MODELS.register_module()
class SelfLabelingHead(nn.Module):
    """Prototype head f_SL with a momentum copy f'_SL.

    Args:
        num_classes: C, number of prototypes (one per class after Eq. 7 init).
        feat_dim: D, pixel feature dimension.
        temperature: tau of Eq. 4 (paper: 0.08).
        momentum: m of the EMA ``momentum = (1 - m) * momentum + m * prototypes``
            (mmengine convention: the paper's EMA decay 0.999 is m = 0.001).

    Without :meth:`init_from_prototypes` the prototypes are random unit vectors
    (the w/o-Init ablation).
    """

    def __init__(self,
                 num_classes: int,
                 feat_dim: int,
                 temperature: float = 0.08,
                 momentum: float = 0.001) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'SelfLabelingHead: temperature must be > 0, got {temperature}')
        check_momentum(momentum, 'self_labeling_head.momentum')
        self.num_classes = num_classes
        self.feat_dim = feat_dim
        self.temperature = temperature
        self.momentum = momentum
        initial = F.normalize(torch.randn(num_classes, feat_dim), dim=1)
        self.prototypes = nn.Parameter(initial.clone())
        self.register_buffer('momentum_prototypes', initial.clone())

    def cosine_scores(self, z: Tensor, use_momentum: bool = False) -> Tensor:
        """f_SL(z): (N, D) features -> (N, C) cosine similarities in [-1, 1]."""
        if z.dim() != 2 or z.shape[1] != self.feat_dim:
            raise ValueError(f'SelfLabelingHead.cosine_scores: z must be (N, {self.feat_dim}), '
                             f'got {tuple(z.shape)}')
        weight = self.momentum_prototypes if use_momentum else self.prototypes
        return F.normalize(z, dim=1) @ F.normalize(weight, dim=1).t()

    def forward(self, z: Tensor) -> Tensor:
        """Eq. 4 logits before the softmax: (N, D) -> (N, C) cosine / tau."""
        return self.cosine_scores(z) / self.temperature

    def pixel_logits(self, feat_map: Tensor, use_momentum: bool = True) -> Tensor:
        """Eq. 4 logits per pixel: (B, D, H, W) feature map -> (B, C, H, W) cosine / tau."""
        if feat_map.dim() != 4 or feat_map.shape[1] != self.feat_dim:
            raise ValueError('SelfLabelingHead: feat_map must be '
                             f'(B, {self.feat_dim}, H, W), got {tuple(feat_map.shape)}')
        weight = self.momentum_prototypes if use_momentum else self.prototypes
        cosine = torch.einsum('bdhw,cd->bchw', F.normalize(feat_map, dim=1),
                              F.normalize(weight, dim=1).to(feat_map.dtype))
        return cosine / self.temperature

    def pixel_probabilities(self, feat_map: Tensor, use_momentum: bool = True) -> Tensor:
        """P_SL: (B, D, H, W) feature map -> (B, C, H, W) softmax(cosine / tau) over C."""
        return torch.softmax(self.pixel_logits(feat_map, use_momentum), dim=1)

    @torch.no_grad()
    def init_from_prototypes(self, prototypes: Tensor) -> None:
        """Eq. 7 initialisation: both copies take the normalised class prototypes.

        Args:
            prototypes: (C, D) mean feature per class. Rows of zero norm (classes absent
                from the pseudo labels) keep their current random value, with a warning.
        """
        if prototypes.shape != (self.num_classes, self.feat_dim):
            raise ValueError('SelfLabelingHead.init_from_prototypes: prototypes must be '
                             f'({self.num_classes}, {self.feat_dim}), '
                             f'got {tuple(prototypes.shape)}')
        prototypes = prototypes.detach().to(self.prototypes)
        present = prototypes.norm(dim=1) > 0
        if not bool(present.all()):
            missing = (~present).nonzero().flatten().tolist()
            warnings.warn(f'SelfLabelingHead.init_from_prototypes: classes {missing} have '
                          'zero-norm prototypes (no pixels); keeping random prototypes')
        values = torch.where(present.unsqueeze(1), F.normalize(prototypes, dim=1),
                             self.prototypes.data)
        self.prototypes.data.copy_(values)
        self.momentum_prototypes.copy_(values)

    @torch.no_grad()
    def momentum_update(self) -> None:
        """EMA step of f'_SL: ``momentum = (1 - m) * momentum + m * prototypes``."""
        ema_update_([(self.momentum_prototypes, self.prototypes)], self.momentum)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, feat_dim={self.feat_dim}, '
                f'temperature={self.temperature}, momentum={self.momentum}')
