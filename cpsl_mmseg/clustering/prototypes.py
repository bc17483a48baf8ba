"""Class prototypes from pseudo labels (CPSL Eq. 7), accumulated over a dataset.

``z_bar_c = (1 / |Gamma_c|) sum_{n,i} Y_ST^c z_{n,i}``: the mean L2-normalised pixel
feature of every pixel whose hard pseudo label is c. The per-class pixel counts
``|Gamma_c|`` are also the class counts of Eq. 10 (``ClassPrior.initialize``).
"""
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn


class PrototypeAccumulator(nn.Module):
    """Running float64 sums of normalised features and pixel counts per class.

    Args:
        num_classes: C.
        feat_dim: D.

    Buffers: ``sums`` (C, D) float64 and ``counts`` (C,) long.
    """

    def __init__(self, num_classes: int, feat_dim: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.feat_dim = feat_dim
        self.register_buffer('sums', torch.zeros(num_classes, feat_dim, dtype=torch.float64))
        self.register_buffer('counts', torch.zeros(num_classes, dtype=torch.long))

    @torch.no_grad()
    def update(self, features: Tensor, labels: Tensor, ignore_index: int = 255) -> None:
        """Add a batch: (B, D, H, W) features with (B, H, W) hard labels at the same H, W.

        Features are L2-normalised per pixel (Sec. 3.2) before accumulation; pixels
        labelled ``ignore_index`` are skipped.
        """
        if features.dim() != 4 or features.shape[1] != self.feat_dim:
            raise ValueError(f'PrototypeAccumulator.update: features must be (B, {self.feat_dim},'
                             f' H, W), got {tuple(features.shape)}')
        expected = (features.shape[0], ) + tuple(features.shape[2:])
        if tuple(labels.shape) != expected:
            raise ValueError('PrototypeAccumulator.update: labels must be (B, H, W) at the '
                             f'feature resolution: features {tuple(features.shape)}, labels '
                             f'{tuple(labels.shape)}')
        for image_feats, image_labels in zip(features, labels):  # bounds float64 memory
            keep = image_labels != ignore_index
            classes = image_labels[keep].long()
            if classes.numel() == 0:
                continue
            if int(classes.min()) < 0 or int(classes.max()) >= self.num_classes:
                raise ValueError('PrototypeAccumulator.update: labels must lie in '
                                 f'[0, {self.num_classes}) or equal ignore_index={ignore_index}')
            pixels = F.normalize(image_feats.permute(1, 2, 0)[keep].float(), dim=1)
            self.sums.index_add_(0, classes.to(self.sums.device),
                                 pixels.to(self.sums.device, torch.float64))
            self.counts += torch.bincount(classes, minlength=self.num_classes).to(self.counts)

    @torch.no_grad()
    def all_reduce(self) -> None:
        """Sum ``sums`` and ``counts`` over all ranks (no-op without a process group)."""
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(self.sums, op=dist.ReduceOp.SUM)
            dist.all_reduce(self.counts, op=dist.ReduceOp.SUM)

    def compute(self) -> Tensor:
        """(C, D) fp32 prototypes (Eq. 7); classes never seen get zero rows."""
        means = self.sums / self.counts.clamp(min=1).unsqueeze(1).double()
        return means.float()
