"""Pixel sampling for the memory bank: class-balanced (CPSL Eq. 8-9) and uniform.

Both samplers return, per image, M flat indices into H*W plus a validity mask, and
never draw a pixel labelled ``ignore_index``. Everything is vectorised over the
batch: one sort of random keys groups pixels by class in random order, and the
remainder of Eq. 9 is drawn with a top-k over fresh random keys.
"""
from typing import Optional

import torch
from torch import Tensor

# Random sort keys are drawn from [0, 2**40) and offset by class * 2**40 (exact in int64).
_KEY_RANGE = 2**40


def _check_labels(labels: Tensor, num_samples: int, num_classes: int,
                  ignore_index: int) -> None:
    if labels.dim() != 3:
        raise ValueError(f'labels must be (B, H, W), got shape {tuple(labels.shape)}')
    if num_samples < 1 or num_classes < 1:
        raise ValueError('num_samples and num_classes must be >= 1, got '
                         f'num_samples={num_samples}, num_classes={num_classes}')
    if 0 <= ignore_index < num_classes:
        raise ValueError(f'ignore_index={ignore_index} must lie outside the class range '
                         f'[0, {num_classes})')
    bad = (labels != ignore_index) & ((labels < 0) | (labels >= num_classes))
    if bool(bad.any()):
        raise ValueError(f'labels contain values outside [0, {num_classes}) that are not '
                         f'ignore_index={ignore_index}: {labels[bad].unique().tolist()[:10]}')


def _class_counts(labels: Tensor, num_classes: int, ignore_index: int) -> Tensor:
    """(B, C) long pixel counts per class; ignore pixels are not counted."""
    batch = labels.shape[0]
    flat = labels.reshape(batch, -1).long()
    flat = torch.where(flat == ignore_index, torch.full_like(flat, num_classes), flat)
    offsets = torch.arange(batch, device=labels.device).unsqueeze(1) * (num_classes + 1)
    counts = torch.bincount((flat + offsets).reshape(-1), minlength=batch * (num_classes + 1))
    return counts.view(batch, num_classes + 1)[:, :num_classes]


def class_distribution(labels: Tensor, num_classes: int, ignore_index: int = 255) -> Tensor:
    """Per-image class shares delta_n (Eq. 8) over the non-ignore pixels.

    Args:
        labels: (B, H, W) class indices (rectified pseudo labels).

    Returns:
        (B, C) fp32; each row sums to 1, or is all zeros for an all-ignore image.
    """
    if labels.dim() != 3:
        raise ValueError(f'labels must be (B, H, W), got shape {tuple(labels.shape)}')
    counts = _class_counts(labels, num_classes, ignore_index).float()
    return counts / counts.sum(dim=1, keepdim=True).clamp(min=1)


def _compact(selected: Tensor, num_samples: int) -> tuple[Tensor, Tensor]:
    """(B, HW) bool -> (B, M) ascending flat indices of the True entries and validity.

    Each row must hold at most M True entries; missing slots get index 0, valid False.
    """
    batch, num_pixels = selected.shape
    slot = selected.long().cumsum(dim=1) - 1
    slot = torch.where(selected, slot, torch.full_like(slot, num_samples))  # spill slot M
    pixel = torch.arange(num_pixels, device=selected.device).expand(batch, -1)
    indices = torch.zeros(batch, num_samples + 1, dtype=torch.long, device=selected.device)
    indices.scatter_(1, slot, pixel)
    valid = (torch.arange(num_samples, device=selected.device).unsqueeze(0)
             < selected.sum(dim=1, keepdim=True))
    indices = torch.where(valid, indices[:, :num_samples], torch.zeros_like(indices[:, 1:]))
    return indices, valid


def class_balanced_sample(labels: Tensor,
                          num_samples: int,
                          num_classes: int,
                          ignore_index: int = 255,
                          generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
    """Class-balanced pixel sampling (Eq. 8-9).

    Per image n, class c gets ``M_c = floor(M * delta_n^c)`` pixels drawn uniformly
    without replacement from its pixels, where ``delta_n`` (Eq. 8) is the class share
    over non-ignore pixels; the remaining ``M - sum_c M_c`` slots are filled uniformly
    from the not yet drawn non-ignore pixels. An image with fewer than M non-ignore
    pixels contributes all of them and marks the extra slots invalid.

    Args:
        labels: (B, H, W) class indices in [0, C) or ``ignore_index``.
        num_samples: M, pixels per image.
        num_classes: C.
        ignore_index: label of pixels that are never drawn.
        generator: optional ``torch.Generator`` on ``labels.device``.

    Returns:
        indices: (B, M) long flat indices into H*W (ascending; 0 in invalid slots).
        valid: (B, M) bool, False for slots left empty.
    """
    _check_labels(labels, num_samples, num_classes, ignore_index)
    batch = labels.shape[0]
    device = labels.device
    flat = labels.reshape(batch, -1).long()
    is_ignored = flat == ignore_index
    class_of = torch.where(is_ignored, torch.full_like(flat, num_classes), flat)

    counts = _class_counts(labels, num_classes, ignore_index)  # (B, C)
    num_valid = counts.sum(dim=1, keepdim=True)
    quota = torch.div(counts * num_samples, num_valid.clamp(min=1), rounding_mode='floor')
    quota = torch.minimum(quota, counts)  # Eq. 9, capped when an image has < M pixels

    # Sort by (class, random key): pixels grouped per class (ignore last), random order inside.
    keys = class_of * _KEY_RANGE + torch.randint(
        _KEY_RANGE, flat.shape, generator=generator, device=device)
    order = keys.argsort(dim=1)
    sorted_class = class_of.gather(1, order)
    class_start = torch.cumsum(counts, dim=1) - counts  # (B, C) first sorted position
    padded_start = torch.cat([class_start, num_valid], dim=1)  # ignore block starts at n_valid
    padded_quota = torch.cat([quota, torch.zeros_like(num_valid)], dim=1)
    position = torch.arange(flat.shape[1], device=device).unsqueeze(0)
    rank_in_class = position - padded_start.gather(1, sorted_class)
    chosen_sorted = rank_in_class < padded_quota.gather(1, sorted_class)
    chosen = torch.zeros_like(chosen_sorted).scatter_(1, order, chosen_sorted)

    # Remainder of Eq. 9: fewer than C slots, drawn uniformly from the undrawn valid pixels.
    remainder = num_samples - quota.sum(dim=1, keepdim=True)
    spare = ~chosen & ~is_ignored
    remainder = torch.minimum(remainder, spare.sum(dim=1, keepdim=True))
    top = int(remainder.max().item()) if batch else 0
    if top > 0:
        fill_keys = torch.rand(flat.shape, generator=generator, device=device)
        fill_keys = torch.where(spare, fill_keys, torch.full_like(fill_keys, 2.0))
        picks = fill_keys.topk(top, dim=1, largest=False).indices
        take = torch.arange(top, device=device).unsqueeze(0) < remainder
        chosen.scatter_(1, picks, take | chosen.gather(1, picks))
    return _compact(chosen, num_samples)


def uniform_sample(labels: Tensor,
                   num_samples: int,
                   num_classes: int,
                   ignore_index: int = 255,
                   generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
    """Uniform pixel sampling over non-ignore pixels (the w/o-CB ablation).

    Same arguments and returns as :func:`class_balanced_sample`; M pixels per image
    are drawn uniformly without replacement from the non-ignore pixels.
    """
    _check_labels(labels, num_samples, num_classes, ignore_index)
    batch = labels.shape[0]
    flat = labels.reshape(batch, -1)
    keys = torch.rand(flat.shape, generator=generator, device=labels.device)
    keys = torch.where(flat == ignore_index, torch.full_like(keys, 2.0), keys)
    top = min(num_samples, flat.shape[1])
    chosen = torch.zeros(flat.shape, dtype=torch.bool, device=labels.device)
    chosen.scatter_(1, keys.topk(top, dim=1, largest=False).indices, True)
    return _compact(chosen & (flat != ignore_index), num_samples)
