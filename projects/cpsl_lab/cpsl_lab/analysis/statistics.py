"""Class statistics of label maps: pixel shares, KL divergence and IoU.

Used to compare pseudo labels with the target ground truth (the paper's Fig. 6
class distributions and the pseudo-label quality behind Table 3). Everything works
on integer label maps of any shape where ``ignore_index`` marks unlabelled pixels.
"""
import math
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor


def class_counts(labels: Tensor, num_classes: int,
                 ignore_index: int = 255) -> Tensor:
    """Pixels per class, (C,) int64; ``ignore_index`` and out-of-range ids are skipped."""
    flat = labels.reshape(-1).long()
    flat = flat[(flat >= 0) & (flat < num_classes) & (flat != ignore_index)]
    return torch.bincount(flat, minlength=num_classes)


def shares(counts: Tensor) -> List[float]:
    """Counts -> a probability vector (all zeros when there are no pixels)."""
    total = float(counts.sum())
    return [float(c) / total if total > 0 else 0.0 for c in counts.tolist()]


def kl_divergence(p: Sequence[float], q: Sequence[float],
                  epsilon: float = 1e-6) -> float:
    """KL(p || q) in nats between two class distributions.

    ``epsilon`` is added to every entry of both and each is renormalised, so an
    empty class of ``q`` gives a large finite value instead of infinity; the result
    is >= 0 and exactly 0 when ``p == q``.
    """
    if len(p) != len(q):
        raise ValueError(f'kl_divergence: {len(p)} vs {len(q)} classes')
    p_eps = [max(float(v), 0.0) + epsilon for v in p]
    q_eps = [max(float(v), 0.0) + epsilon for v in q]
    p_sum, q_sum = sum(p_eps), sum(q_eps)
    return max(0.0, sum(a / p_sum * math.log((a / p_sum) / (b / q_sum))
                        for a, b in zip(p_eps, q_eps)))


class ConfusionMatrix:
    """Accumulates a (C, C) confusion matrix, rows = ground truth, cols = prediction.

    Pixels whose ground truth is ``ignore_index`` are skipped. A prediction of
    ``ignore_index`` (an ignored pseudo label) counts as a miss of the true class, as
    in mmseg's ``IoUMetric``, and is tallied per true class in :attr:`missed`.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)
        # GT pixels per class whose prediction is ignore_index (or out of range)
        self.missed = torch.zeros(num_classes, dtype=torch.int64)

    def update(self, prediction: Tensor, target: Tensor) -> None:
        """Add one pair of label maps of equal shape."""
        if prediction.shape != target.shape:
            raise ValueError('ConfusionMatrix.update: prediction '
                             f'{tuple(prediction.shape)} vs ground truth '
                             f'{tuple(target.shape)}')
        gt = target.reshape(-1).long().cpu()
        pred = prediction.reshape(-1).long().cpu()
        keep = (gt >= 0) & (gt < self.num_classes) & (gt != self.ignore_index)
        gt, pred = gt[keep], pred[keep]
        labelled = (pred >= 0) & (pred < self.num_classes)
        self.missed += torch.bincount(gt[~labelled], minlength=self.num_classes)
        index = gt[labelled] * self.num_classes + pred[labelled]
        self.matrix += torch.bincount(
            index, minlength=self.num_classes**2).view(self.num_classes, -1)

    def per_class_iou(self) -> List[Optional[float]]:
        """IoU in percent per class; None for a class absent from both maps."""
        true_pos = self.matrix.diag().double()
        gt_pixels = (self.matrix.sum(dim=1) + self.missed).double()
        union = gt_pixels + self.matrix.sum(dim=0).double() - true_pos
        return [100.0 * float(t / u) if u > 0 else None
                for t, u in zip(true_pos, union)]

    def summary(self, classes: Sequence[str]) -> Dict[str, object]:
        """``per_class_iou`` (class -> % or None), ``mIoU`` over defined classes,
        ``accuracy`` (% of labelled GT pixels) and ``ignored_share``."""
        ious = self.per_class_iou()
        defined = [v for v in ious if v is not None]
        total = int(self.matrix.sum() + self.missed.sum())
        correct = int(self.matrix.diag().sum())
        return dict(
            per_class_iou=dict(zip(classes, ious)),
            mIoU=sum(defined) / len(defined) if defined else None,
            accuracy=100.0 * correct / total if total else None,
            ignored_share=int(self.missed.sum()) / total if total else 0.0)
