"""Whether class balance works: the memory bank against the class prior, and the
Sinkhorn assignments against the rectified labels of the rows they assign.

Sinkhorn (Eq. 6, 12) must give class c a share ``r_c`` of the rows of
``[samples; bank]``. If the bank holds fewer rows of class c than that, the missing
mass goes to rows of other classes, and the prototype of c learns from them (Eq. 5).
Two numbers per class say whether that happens:

* ``bank_over_prior``: the class's share of the bank's rows (by rectified label) over
  its prior share ``r_c``; below 1 the bank cannot satisfy the marginal for c;
* ``precision``: of the rows Sinkhorn assigns to c (argmax of Q), the share whose
  rectified label is c.
"""
from typing import Dict

import torch
from torch import Tensor


@torch.no_grad()
def label_shares(labels: Tensor, num_classes: int) -> Tensor:
    """(C,) share of the (N,) labels in [0, C) per class (zeros when N = 0)."""
    counts = torch.bincount(labels.long(), minlength=num_classes)[:num_classes]
    return counts.double() / max(labels.numel(), 1)


@torch.no_grad()
def assignment_agreement(assignments: Tensor, labels: Tensor,
                         num_classes: int) -> Dict[str, Tensor]:
    """Sinkhorn's hard assignments against the rows' rectified labels.

    Args:
        assignments: (N, C) soft assignments Q of the rows.
        labels: (N,) rectified labels of the same rows, in [0, C).

    Returns:
        ``assigned``: (C,) rows assigned to each class (argmax of Q);
        ``correct``: (C,) of those, rows whose label is that class;
        ``precision``: (C,) correct / assigned (NaN where nothing was assigned).
    """
    if assignments.dim() != 2 or assignments.shape[0] != labels.shape[0]:
        raise ValueError('assignment_agreement: assignments must be (N, C) and labels '
                         f'(N,), got {tuple(assignments.shape)} and {tuple(labels.shape)}')
    hard = assignments.argmax(dim=1)
    assigned = torch.bincount(hard, minlength=num_classes)[:num_classes].double()
    correct = torch.bincount(hard[hard == labels.long()],
                             minlength=num_classes)[:num_classes].double()
    precision = torch.where(assigned > 0, correct / assigned.clamp(min=1),
                            torch.full_like(assigned, float('nan')))
    return dict(assigned=assigned, correct=correct, precision=precision)


@torch.no_grad()
def bank_over_prior(bank_shares: Tensor, prior: Tensor) -> Tensor:
    """(C,) the bank's share of each class over the prior's (NaN where the prior is 0)."""
    prior = prior.double().to(bank_shares.device)
    return torch.where(prior > 0, bank_shares.double() / prior.clamp(min=1e-12),
                       torch.full_like(prior, float('nan')))


@torch.no_grad()
def class_balance_report(bank_labels: Tensor, prior: Tensor, assignments: Tensor,
                         labels: Tensor, num_classes: int) -> Dict[str, Tensor]:
    """One self-labeling step's class balance, all (C,) float64: ``bank_share`` (the
    (L,) ``bank_labels`` per class), ``prior`` (the Sinkhorn marginal r), and
    ``assigned`` / ``correct`` of :func:`assignment_agreement` for the (N, C)
    ``assignments`` of a Sinkhorn problem and its rows' (N,) rectified ``labels``."""
    agreement = assignment_agreement(assignments, labels, num_classes)
    return dict(bank_share=label_shares(bank_labels, num_classes),
                prior=prior.detach().double().to(bank_labels.device),
                assigned=agreement['assigned'], correct=agreement['correct'])
