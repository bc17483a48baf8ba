"""Block masks of MIC's masked image consistency (Hoyer et al., CVPR 2023).

MIC (``masking_transforms.py``, ``BlockMaskGenerator``) divides the image into square
blocks of ``block_size`` pixels and hides each block independently with probability
``mask_ratio`` by multiplying the normalised image by 0 there (the dataset mean
colour). MIC: blocks of 64 pixels, ratio 0.7, at 512x512 crops. MIC rounds the block
grid to the image size and resizes it (blocks of about ``block_size``); here the grid
is aligned to the top-left corner and every block is exactly ``block_size`` wide and
high, except the last row and column of blocks when the side is not a multiple.
"""
from typing import Optional

import torch
from torch import Tensor


def random_block_mask(batch: int, height: int, width: int, block_size: int,
                      mask_ratio: float, device: torch.device,
                      generator: Optional[torch.Generator] = None) -> Tensor:
    """(B, H, W) bool, True on the hidden pixels: whole blocks, each hidden with
    probability ``mask_ratio``."""
    rows = -(-height // block_size)
    cols = -(-width // block_size)
    hidden = torch.rand(batch, rows, cols, generator=generator) < mask_ratio
    hidden = hidden.to(device).repeat_interleave(block_size, dim=1)
    return hidden.repeat_interleave(block_size, dim=2)[:, :height, :width]


class BlockMasking:
    """MIC's block masking of a normalised batch; errors name ``config_key``.

    Args:
        block_size: side of a block in pixels (MIC: 64 at 512x512 crops).
        mask_ratio: probability that a block is hidden (MIC: 0.7).
    """

    def __init__(self, block_size: int = 64, mask_ratio: float = 0.7,
                 config_key: str = 'model.masked_consistency') -> None:
        if block_size < 1:
            raise ValueError(f'{config_key}.block_size must be >= 1, got {block_size}')
        if not 0 <= mask_ratio < 1:
            raise ValueError(f'{config_key}.mask_ratio must lie in [0, 1), got {mask_ratio}')
        self.block_size = block_size
        self.mask_ratio = mask_ratio

    def __call__(self, images: Tensor) -> Tensor:
        """(B, C, H, W) normalised images with the hidden blocks set to 0."""
        hidden = random_block_mask(images.shape[0], *images.shape[-2:], self.block_size,
                                   self.mask_ratio, images.device)
        return images.masked_fill(hidden[:, None], 0.0)
