"""CutMix of source crops into target crops (paper Sec. 4.1; reference: p = 0.5)."""
from typing import Optional

import torch


def random_box_masks(batch_size: int,
                     height: int,
                     width: int,
                     prob: float,
                     device: torch.device,
                     generator: Optional[torch.Generator] = None
                     ) -> torch.Tensor:
    """(B, H, W) bool masks, True inside the pasted box.

    Each image gets a box with probability ``prob``; its area ratio is drawn
    uniformly from [0, 1] (the CutMix recipe), its position uniformly.
    """
    masks = torch.zeros(batch_size, height, width, dtype=torch.bool,
                        device=device)
    draws = torch.rand(batch_size, 4, generator=generator)
    for i in range(batch_size):
        if draws[i, 0] >= prob:
            continue
        side = float(draws[i, 1].sqrt())
        box_h, box_w = int(round(height * side)), int(round(width * side))
        y0 = int(draws[i, 2] * (height - box_h + 1))
        x0 = int(draws[i, 3] * (width - box_w + 1))
        masks[i, y0:y0 + box_h, x0:x0 + box_w] = True
    return masks


def half_area_batch_box(batch_size: int,
                        height: int,
                        width: int,
                        prob: float,
                        device: torch.device,
                        generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """(B, H, W) bool masks of the reference code's CutMix: with probability ``prob``
    one box for the whole batch, of half the crop's area, its height share drawn
    log-uniformly in [1/2, 1] (the width share is 1/2 over it), its position
    uniformly; else no box at all."""
    masks = torch.zeros(batch_size, height, width, dtype=torch.bool, device=device)
    draws = torch.rand(4, generator=generator)
    if draws[0] >= prob:
        return masks
    height_share = float(torch.exp(draws[1] * torch.log(torch.tensor(0.5))))
    box_h = int(round(height * height_share))
    box_w = int(round(width * 0.5 / height_share))
    y0 = int(draws[2] * (height - box_h + 1))
    x0 = int(draws[3] * (width - box_w + 1))
    masks[:, y0:y0 + box_h, x0:x0 + box_w] = True
    return masks


def paste(target: torch.Tensor, source: torch.Tensor,
          masks: torch.Tensor) -> torch.Tensor:
    """Where ``masks`` (B, H, W) is True take ``source``, else ``target``.

    ``target``/``source`` are (B, H, W) label maps or (B, C, H, W) images.
    """
    if target.dim() == 4:
        masks = masks[:, None]
    return torch.where(masks, source, target)
