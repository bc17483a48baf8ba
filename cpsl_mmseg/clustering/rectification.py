"""Hard pseudo labels from class scores: the confident argmax of a mean teacher, and
CPSL's rectification (Eq. 1), the argmax of P_SL * P_ST per pixel."""
from typing import Optional

import torch
from torch import Tensor


@torch.no_grad()
def confident_argmax(scores: Tensor,
                     confidence_threshold: float = 0.0,
                     ignore_index: int = 255,
                     ignore_mask: Optional[Tensor] = None) -> Tensor:
    """``argmax_c scores`` per pixel, with ``ignore_index`` where it is not trusted.

    Args:
        scores: (B, C, H, W) non-negative class scores (probabilities or products).
        confidence_threshold: when > 0, pixels whose normalised best score
            ``max_c scores / sum_c scores`` is below it (or whose scores sum to 0)
            become ``ignore_index``.
        ignore_index: label written to ignored pixels.
        ignore_mask: optional (B, H, W) bool, True where the label must be ignored.

    Returns:
        (B, H, W) long labels in [0, C) or ``ignore_index``.
    """
    best, labels = scores.max(dim=1)
    ignored = torch.zeros_like(labels, dtype=torch.bool)
    if confidence_threshold > 0:
        total = scores.sum(dim=1)
        ignored |= (best < confidence_threshold * total) | (total <= 0)
    if ignore_mask is not None:
        ignored |= ignore_mask.bool()
    return labels.masked_fill_(ignored, ignore_index)


@torch.no_grad()
def normalised_confidence(scores: Tensor) -> Tensor:
    """The confidence of ``argmax_c scores``: ``max_c scores / sum_c scores`` per pixel.

    For probabilities (the teacher's P_ST) it is the max softmax; for CPSL's product
    P_SL * P_ST it is the probability of the rectified label once the product is
    normalised over the classes, the quantity ``confidence_threshold`` compares.

    Args:
        scores: (B, C, H, W) non-negative class scores.

    Returns:
        (B, H, W) float in [0, 1]; 0 where the scores sum to 0 (padding, no P_ST).
    """
    scores = scores.float()
    total = scores.sum(dim=1)
    best = scores.max(dim=1).values
    return torch.where(total > 0, best / total.clamp(min=1e-30), torch.zeros_like(best))


@torch.no_grad()
def rectify_pseudo_labels(p_sl: Tensor,
                          p_st: Tensor,
                          confidence_threshold: float = 0.0,
                          ignore_index: int = 255,
                          ignore_mask: Optional[Tensor] = None) -> Tensor:
    """Rectified hard pseudo labels Y_hat = argmax_c P_SL^c * P_ST^c (Eq. 1).

    Args:
        p_sl: (B, C, H, W) cluster probabilities P_SL from the momentum head.
        p_st: (B, C, H, W) soft pseudo labels P_ST of the warm-up model; pixels whose
            P_ST sums to 0 (padding) become ``ignore_index``.
        confidence_threshold: when > 0, pixels whose normalised product
            ``max_c (P_SL P_ST) / sum_c (P_SL P_ST)`` is below it become ``ignore_index``.
        ignore_index: label written to ignored pixels.
        ignore_mask: optional (B, H, W) bool, True where the label must be ignored.

    Returns:
        (B, H, W) long labels in [0, C) or ``ignore_index``.
    """
    if p_sl.dim() != 4 or p_sl.shape != p_st.shape:
        raise ValueError('rectify_pseudo_labels: p_sl and p_st must both be (B, C, H, W), got '
                         f'p_sl {tuple(p_sl.shape)} and p_st {tuple(p_st.shape)}')
    expected_mask = (p_sl.shape[0], ) + tuple(p_sl.shape[2:])
    if ignore_mask is not None and tuple(ignore_mask.shape) != expected_mask:
        raise ValueError(f'rectify_pseudo_labels: ignore_mask must be {expected_mask} to match '
                         f'p_sl {tuple(p_sl.shape)}, got {tuple(ignore_mask.shape)}')
    ignored = p_st.float().sum(dim=1) <= 0
    if ignore_mask is not None:
        ignored |= ignore_mask.bool()
    return confident_argmax(p_sl.float() * p_st.float(), confidence_threshold,
                            ignore_index, ignored)


@torch.no_grad()
def rectified_confidence(p_sl: Tensor, p_st: Tensor,
                         ignore_mask: Optional[Tensor] = None) -> Tensor:
    """The confidence of the rectified label of Eq. 1: ``max_c (P_SL P_ST) / sum_c
    (P_SL P_ST)`` per pixel (:func:`normalised_confidence` of the product whose argmax
    :func:`rectify_pseudo_labels` takes), (B, H, W); 0 on ``ignore_mask`` (B, H, W)."""
    confidence = normalised_confidence(p_sl.float() * p_st.float())
    return confidence if ignore_mask is None else confidence.masked_fill(ignore_mask, 0.0)
