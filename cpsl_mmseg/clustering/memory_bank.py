"""FIFO memory bank of pixel features for online clustering (CPSL Sec. 3.2).

Sinkhorn runs on ``Z_aug = [Z_cur; M]``: the current batch's sampled features
augmented with a queue ``M`` of L (65,536 in the paper) features from previous
iterations. The queue lives in registered buffers, so mmengine checkpoints carry it
and a resumed run continues with the same bank. Under ``torch.distributed`` every
rank gathers all ranks' samples before enqueueing, so all ranks hold the same bank.
"""
from typing import Optional

import torch
import torch.distributed as dist
from torch import Tensor, nn


def _distributed_world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def _all_gather_rows(rows: Tensor) -> Tensor:
    """Concatenate every rank's ``rows`` (n_rank, ...) in rank order.

    Ranks may hold different n: sizes are gathered first, rows padded to the
    largest n for ``all_gather`` and trimmed afterwards.
    """
    world_size = dist.get_world_size()
    size = torch.tensor([rows.shape[0]], dtype=torch.long, device=rows.device)
    sizes = [torch.zeros_like(size) for _ in range(world_size)]
    dist.all_gather(sizes, size)
    sizes = [int(s.item()) for s in sizes]
    largest = max(sizes)
    padded = rows.new_zeros((largest, ) + tuple(rows.shape[1:]))
    padded[:rows.shape[0]] = rows
    gathered = [torch.empty_like(padded) for _ in range(world_size)]
    dist.all_gather(gathered, padded)
    return torch.cat([chunk[:n] for chunk, n in zip(gathered, sizes)], dim=0)


class PixelMemoryBank(nn.Module):
    """Queue of the last ``length`` pixel features (and optionally their labels).

    Rows are written at a moving pointer that wraps around, so the oldest rows are
    overwritten first. Until the bank has been filled once only its first
    ``num_filled`` rows are valid; once full the rows are in storage order, not in
    arrival order (irrelevant to Sinkhorn, which treats rows as a set).

    Args:
        length: number of rows L (paper: 65,536).
        feat_dim: feature dimension D (required).
        store_labels: also keep an (L,) long label per row.

    Buffers (in ``state_dict``): ``features`` (L, D) fp32, ``labels`` (L,) long when
    ``store_labels``, ``write_pointer`` and ``fill_count`` (0-dim long).
    """

    def __init__(self,
                 length: int = 65536,
                 feat_dim: Optional[int] = None,
                 store_labels: bool = False) -> None:
        super().__init__()
        if feat_dim is None:
            raise TypeError("PixelMemoryBank() missing required argument 'feat_dim'")
        if length < 1 or feat_dim < 1:
            raise ValueError('PixelMemoryBank: length and feat_dim must be >= 1, got '
                             f'length={length}, feat_dim={feat_dim}')
        self.length = length
        self.feat_dim = feat_dim
        self.store_labels = store_labels
        self.register_buffer('features', torch.zeros(length, feat_dim))
        if store_labels:
            self.register_buffer('labels', torch.full((length, ), -1, dtype=torch.long))
        self.register_buffer('write_pointer', torch.zeros((), dtype=torch.long))
        self.register_buffer('fill_count', torch.zeros((), dtype=torch.long))

    @property
    def num_filled(self) -> int:
        """Number of valid rows (at most ``length``)."""
        return int(self.fill_count.item())

    @property
    def is_full(self) -> bool:
        return self.num_filled == self.length

    @torch.no_grad()
    def enqueue(self, features: Tensor, labels: Optional[Tensor] = None) -> None:
        """Append (n, D) features (and (n,) labels) replacing the oldest rows.

        Under an initialised process group with world size > 1 every rank's rows are
        gathered first (in rank order) so that all ranks write the same rows; all
        ranks must call ``enqueue`` together. If more than ``length`` rows arrive
        only the newest ``length`` are kept.
        """
        if features.dim() != 2 or features.shape[1] != self.feat_dim:
            raise ValueError(f'PixelMemoryBank.enqueue: features must be (n, {self.feat_dim}), '
                             f'got {tuple(features.shape)}')
        if self.store_labels != (labels is not None):
            raise ValueError('PixelMemoryBank.enqueue: labels must be given exactly when the '
                             f'bank stores labels (store_labels={self.store_labels})')
        if labels is not None and labels.shape != (features.shape[0], ):
            raise ValueError(f'PixelMemoryBank.enqueue: labels must be ({features.shape[0]},) '
                             f'to match features {tuple(features.shape)}, '
                             f'got {tuple(labels.shape)}')
        features = features.detach().to(self.features)
        if labels is not None:
            labels = labels.detach().to(self.labels)
        if _distributed_world_size() > 1:
            features = _all_gather_rows(features)
            if labels is not None:
                labels = _all_gather_rows(labels)
        count = min(features.shape[0], self.length)
        if count == 0:
            return
        rows = (self.write_pointer + torch.arange(count, device=self.features.device))
        rows = rows % self.length
        self.features.index_copy_(0, rows, features[-count:])
        if labels is not None:
            self.labels.index_copy_(0, rows, labels[-count:])
        self.write_pointer.copy_((self.write_pointer + count) % self.length)
        self.fill_count.copy_(torch.clamp(self.fill_count + count, max=self.length))

    def valid_features(self) -> Tensor:
        """(num_filled, D) view of the valid rows."""
        return self.features[:self.num_filled]

    def valid_labels(self) -> Tensor:
        """(num_filled,) view of the labels of the valid rows."""
        if not self.store_labels:
            raise RuntimeError('PixelMemoryBank.valid_labels: the bank was built with '
                               'store_labels=False')
        return self.labels[:self.num_filled]
