"""Class prior ``delta_pseudo`` used as the class marginal r of Sinkhorn (Eq. 10-12).

Three behaviours, chosen by the config key ``class_prior.mode``:

* ``'moving_average'`` (paper): initialised from the pseudo-label class counts
  (Eq. 10) and updated after every iteration with the batch's class shares (Eq. 11).
* ``'fixed'`` (the authors' code): initialised once, never updated.
* ``'uniform'`` (equal-partition ablation, Fig. 4): always 1/C.
* ``'given'`` (a diagnostic, never a default): a fixed ``distribution`` from the
  config, e.g. the true target class distribution, an upper bound on what
  distribution alignment can give.

Eq. 11's coefficient alpha is the share of the previous estimate that each update
keeps, so it is called ``decay`` here (the paper calls it a momentum; in this package
"momentum" always means the weight of the *new* value, mmengine's convention, see
``cpsl_mmseg/models/utils/ema.py``).
"""
from typing import Optional, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn

PRIOR_MODES = ('moving_average', 'fixed', 'uniform', 'given')


def _is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class ClassPrior(nn.Module):
    """Class distribution estimate ``delta_pseudo`` (C,) kept in registered buffers.

    Args:
        num_classes: C.
        mode: ``'moving_average'``, ``'fixed'``, ``'uniform'`` or ``'given'``.
        decay: alpha of Eq. 11, the weight of the previous estimate (0.99: each
            update keeps 99 % of the prior and mixes in 1 % of the batch's shares).
        distribution: (C,) non-negative class weights, required by (and only by)
            ``'given'``; normalised to sum to 1.

    Buffers: ``prior`` (C,) fp32 probability vector (uniform until initialised) and
    ``initialized`` (0-dim bool).
    """

    def __init__(self, num_classes: int, mode: str = 'moving_average',
                 decay: float = 0.99, distribution: Optional[Sequence[float]] = None) -> None:
        super().__init__()
        if mode not in PRIOR_MODES:
            raise ValueError(f'class_prior.mode must be one of {PRIOR_MODES}, got {mode!r}')
        if (mode == 'given') != (distribution is not None):
            raise ValueError("class_prior.distribution must be set exactly when "
                             f"class_prior.mode='given' (mode={mode!r})")
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f'class_prior.decay must lie in [0, 1], got {decay}')
        if num_classes < 1:
            raise ValueError(f'ClassPrior: num_classes must be >= 1, got {num_classes}')
        self.num_classes = num_classes
        self.mode = mode
        self.decay = decay
        self.register_buffer('prior', torch.full((num_classes, ), 1.0 / num_classes))
        self.register_buffer('initialized', torch.zeros((), dtype=torch.bool))
        if distribution is not None:
            given = torch.as_tensor(distribution, dtype=torch.float64)
            if given.shape != (num_classes, ) or not bool(
                    torch.isfinite(given).all() & (given >= 0).all() & (given.sum() > 0)):
                raise ValueError(f'class_prior.distribution must hold {num_classes} '
                                 f'non-negative numbers, not all zero, got {distribution}')
            self.prior.copy_(given / given.sum())

    @torch.no_grad()
    def initialize(self, class_counts: Tensor) -> None:
        """Eq. 10: the prior is the normalised pixel count per class of the pseudo labels.

        Args:
            class_counts: (C,) pixel counts (this rank's share of the dataset); summed
                over ranks when distributed, so every rank ends with the same prior.
        """
        if class_counts.shape != (self.num_classes, ):
            raise ValueError(f'ClassPrior.initialize: class_counts must be ({self.num_classes},),'
                             f' got {tuple(class_counts.shape)}')
        counts = class_counts.detach().to(device=self.prior.device, dtype=torch.float64)
        if _is_distributed():
            dist.all_reduce(counts, op=dist.ReduceOp.SUM)
        total = counts.sum()
        if not bool(torch.isfinite(counts).all() & (counts >= 0).all() & (total > 0)):
            raise ValueError('ClassPrior.initialize: class_counts must be finite, non-negative '
                             f'and not all zero, got {counts.tolist()}')
        if self.mode in ('moving_average', 'fixed'):
            self.prior.copy_(counts / total)
        self.initialized.fill_(True)

    @torch.no_grad()
    def update(self, batch_distribution: Tensor) -> None:
        """Eq. 11: ``prior = alpha * prior + (1 - alpha) * mean_n delta_n``.

        Args:
            batch_distribution: (B, C) per-image class shares delta_n (Eq. 8). Rows that
                are all zero (all-ignore images) are skipped; the mean is taken over the
                remaining rows of all ranks. Only ``'moving_average'`` changes the prior,
                but every rank must call this in every mode when distributed.
        """
        if batch_distribution.dim() != 2 or batch_distribution.shape[1] != self.num_classes:
            raise ValueError(f'ClassPrior.update: batch_distribution must be (B, '
                             f'{self.num_classes}), got {tuple(batch_distribution.shape)}')
        if self.mode != 'moving_average':
            return
        rows = batch_distribution.detach().to(device=self.prior.device, dtype=torch.float64)
        present = rows.sum(dim=1) > 0
        # Sum of the kept rows (C entries) and their number, reduced together.
        stats = torch.cat([rows[present].sum(dim=0), present.sum().reshape(1).double()])
        if _is_distributed():
            dist.all_reduce(stats, op=dist.ReduceOp.SUM)
        if stats[-1].item() == 0:
            return
        batch_mean = stats[:-1] / stats[-1]
        batch_mean = batch_mean / batch_mean.sum()
        updated = self.decay * self.prior.double() + (1.0 - self.decay) * batch_mean
        self.prior.copy_(updated / updated.sum())

    def forward(self) -> Tensor:
        """The prior r for Sinkhorn (Eq. 12): (C,) fp32 probability vector (a copy)."""
        if self.mode == 'uniform':
            return torch.full_like(self.prior, 1.0 / self.num_classes)
        return self.prior.clone()

    get = forward

    def extra_repr(self) -> str:
        return f'num_classes={self.num_classes}, mode={self.mode!r}, decay={self.decay}'
