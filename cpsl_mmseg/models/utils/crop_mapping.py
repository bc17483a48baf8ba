"""Reading maps computed on a full image at the pixels of a training crop."""
from typing import Tuple

import torch.nn.functional as F
from torch import Tensor


def crop_from_full(maps: Tensor, coords: Tensor, size: Tuple[int, int]) -> Tensor:
    """``maps`` of the full images read at the crop's source coordinates.

    Args:
        maps: (B, K, h0, w0) outputs on the full images.
        coords: (B, 2, H, W) normalised (x, y) full-image coordinates of every crop
            pixel (``FullImageView``); values outside [0, 1] mark padding.
        size: (h, w) of the result, the crop at the maps' stride.

    Returns:
        (B, K, h, w): bilinear reads at the coordinates of the crop's (h, w) cell
        centres (the coordinate map is downsampled bilinearly, which is exact for the
        affine maps that resizing, cropping and flipping make); zero where padded.
    """
    small = F.interpolate(coords.float(), size=size, mode='bilinear', align_corners=False)
    valid = ((small >= 0) & (small <= 1)).all(dim=1, keepdim=True)
    grid = (small.permute(0, 2, 3, 1) * 2 - 1).to(maps.dtype)
    read = F.grid_sample(maps, grid, mode='bilinear', padding_mode='border',
                         align_corners=False)
    return read * valid.to(read.dtype)
