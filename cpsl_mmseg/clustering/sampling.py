"""Pixel sampling for the memory bank: class-balanced (CPSL Eq. 8-9) and uniform.

Both samplers return, per image, M flat indices into H*W plus a validity mask, and
never draw a pixel labelled ``ignore_index``. Both are unbiased: class c of an image
is drawn ``M * delta^c`` times in expectation. Eq. 9's floor alone is not (it gives
every class under 1/M of an image nothing, and a remainder drawn from all pixels
goes to the majority classes); :func:`class_quotas` hands the leftover slots to the
classes by their fractional parts. Everything is vectorised over the batch: one sort
of random keys groups pixels by class in random order.
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


def class_quotas(counts: Tensor, num_samples: int,
                 generator: Optional[torch.Generator] = None) -> Tensor:
    """Pixels to draw per class and image (Eq. 9), unbiased: (B, C) long.

    Class c of image n gets its paper quota ``floor(M * delta_n^c)`` plus one more
    pixel with probability equal to the fractional part of ``M * delta_n^c``. The
    fractional parts of an image sum to the integer ``R = M - sum_c floor(M delta_n^c)``
    (the slots Eq. 9 leaves over), and systematic sampling over the classes, one
    uniform offset per image, picks exactly R of them with exactly those
    probabilities. So every image yields M draws, only from the classes it contains
    (the paper's rule for classes an image lacks), and every class's expected number
    of draws is ``M * delta_n^c``, rare classes included: a class under 1/M of an
    image gets a draw in that share of the images instead of (nearly) never.
    Everything is exact integer arithmetic: ``M * count`` is split as
    ``quota * N + rest`` with N the image's non-ignore pixels.

    Args:
        counts: (B, C) long pixel counts per class (ignore pixels excluded).
        num_samples: M.
        generator: optional ``torch.Generator`` on ``counts.device``.

    Returns:
        (B, C) long draws per class; each row sums to ``min(M, N)`` (an image with at
        most M non-ignore pixels gives all of them).
    """
    num_valid = counts.sum(dim=1, keepdim=True)
    scaled = counts * num_samples
    quota = torch.div(scaled, num_valid.clamp(min=1), rounding_mode='floor')
    rest = scaled - quota * num_valid  # fractional part times N, in [0, N)
    # Systematic sampling: points offset + k * N on the cumulative rests; class c is
    # picked when a point falls into [cum_{c-1}, cum_c), i.e. with probability rest/N.
    offset = (torch.rand(num_valid.shape, generator=generator, device=counts.device)
              * num_valid).long()
    upper = torch.cumsum(rest, dim=1)
    lower = upper - rest

    def points_below(edge: Tensor) -> Tensor:  # number of points < edge (ceil division)
        return -torch.div(offset - edge, num_valid.clamp(min=1), rounding_mode='floor')

    extra = points_below(upper) - points_below(lower)
    return torch.where(num_valid <= num_samples, counts, quota + extra)


def class_balanced_sample(labels: Tensor,
                          num_samples: int,
                          num_classes: int,
                          ignore_index: int = 255,
                          generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
    """Class-balanced pixel sampling (Eq. 8-9).

    Per image n, class c gets the draws of :func:`class_quotas` (Eq. 9's
    ``floor(M * delta_n^c)``, where ``delta_n`` (Eq. 8) is the class share over
    non-ignore pixels, and the leftover slots given to classes by their fractional
    parts, so each class is drawn ``M * delta_n^c`` times in expectation), drawn
    uniformly without replacement from its pixels. An image with fewer than M
    non-ignore pixels contributes all of them and marks the extra slots invalid.

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
    class_of = torch.where(flat == ignore_index, torch.full_like(flat, num_classes), flat)

    counts = _class_counts(labels, num_classes, ignore_index)  # (B, C)
    num_valid = counts.sum(dim=1, keepdim=True)
    quota = class_quotas(counts, num_samples, generator)

    # Sort by (class, random key): pixels grouped per class (ignore last), random order
    # inside; the first quota_c of class c's block are drawn.
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


def gather_pixels(maps: Tensor, indices: Tensor) -> Tensor:
    """The values of (B, K, h, w) ``maps`` at (B, M) flat pixel ``indices``: (B, M, K)."""
    flat = maps.flatten(2).transpose(1, 2)
    return torch.gather(flat, 1, indices[..., None].expand(-1, -1, flat.shape[2]))
