"""Colour jitter and Gaussian blur of a normalised image batch on the model side:
DACS / DAFormer's augmentation of the mixed image, and MIC's of its masked image.

DAFormer's values (``color_jitter_strength=0.2``, ``color_jitter_probability=0.2``,
``blur=True`` in its ``uda/dacs.py``): jitter is applied when a uniform draw exceeds
0.2, i.e. with probability 0.8, with brightness, contrast and saturation factors in
[0.8, 1.2] and a hue shift of up to 0.2 of a turn; blur with probability 0.5, sigma
uniform in [0.15, 1.15], an odd kernel of about a tenth of the image side.

Here each image of the batch draws its own decisions and factors (DAFormer draws the
two decisions once per batch) and the four jitter operations run in a fixed order
(brightness, contrast, saturation, hue). Every operation treats the three channels
alike (grey = channel mean, hue = rotation about the grey axis), so RGB and BGR
inputs are treated the same in distribution. Draws come from torch's global RNG.
"""
import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def _grey(images: Tensor) -> Tensor:
    return images.mean(dim=1, keepdim=True)


def _rotate_hue(images: Tensor, turns: Tensor) -> Tensor:
    """Rotate every pixel's colour about the grey axis by ``turns`` (B,) of a turn."""
    angle = 2 * math.pi * turns
    cos, sin = angle.cos(), angle.sin()
    axis = torch.full((3, ), 1 / math.sqrt(3), device=images.device)
    cross = torch.tensor([[0., -1., 1.], [1., 0., -1.], [-1., 1., 0.]],
                         device=images.device) / math.sqrt(3)
    outer = torch.outer(axis, axis)
    eye = torch.eye(3, device=images.device)
    rotation = (cos[:, None, None] * eye + sin[:, None, None] * cross
                + (1 - cos)[:, None, None] * outer)  # Rodrigues, (B, 3, 3)
    return torch.einsum('bij,bjhw->bihw', rotation, images)


def color_jitter(images: Tensor, strength: float, apply: Tensor) -> Tensor:
    """Jitter the images (B, 3, H, W) in [0, 1] where ``apply`` (B,) is True."""
    batch = images.shape[0]
    factors = 1 + strength * (2 * torch.rand(batch, 4, device=images.device) - 1)
    factors[:, 3] -= 1  # the hue shift, in turns, in [-strength, strength]
    factors = torch.where(apply[:, None], factors,
                          torch.tensor([1., 1., 1., 0.], device=images.device))
    out = (images * factors[:, 0, None, None, None]).clamp(0, 1)
    mean = _grey(out).mean(dim=(2, 3), keepdim=True)
    out = (mean + factors[:, 1, None, None, None] * (out - mean)).clamp(0, 1)
    grey = _grey(out)
    out = (grey + factors[:, 2, None, None, None] * (out - grey)).clamp(0, 1)
    return _rotate_hue(out, factors[:, 3]).clamp(0, 1)


def odd_kernel_size(side: int, ratio: float) -> int:
    """The odd integer nearest below ``ceil(ratio * side)`` (at least 1)."""
    size = max(math.ceil(ratio * side), 1)
    return size if size % 2 else size - 1


def gaussian_blur(images: Tensor, sigma: Tensor, kernel_ratio: float,
                  apply: Tensor) -> Tensor:
    """Separable Gaussian blur of (B, C, H, W) with per-image ``sigma`` (B,), kernels
    of ``kernel_ratio`` of each side (odd), reflected borders; only where ``apply``."""
    out = images
    for dim, side in ((2, images.shape[2]), (3, images.shape[3])):
        size = odd_kernel_size(side, kernel_ratio)
        if size < 3:
            continue
        offsets = torch.arange(size, device=images.device) - size // 2
        kernel = torch.exp(-offsets[None].float() ** 2 / (2 * sigma[:, None] ** 2))
        kernel = kernel / kernel.sum(dim=1, keepdim=True)  # (B, size)
        shape = (size, 1) if dim == 2 else (1, size)
        pad = (0, 0, size // 2, size // 2) if dim == 2 else (size // 2, size // 2, 0, 0)
        padded = F.pad(out, pad, mode='reflect')
        batch, channels = out.shape[:2]
        weight = kernel.repeat_interleave(channels, dim=0).view(batch * channels, 1, *shape)
        out = F.conv2d(padded.reshape(1, batch * channels, *padded.shape[2:]), weight,
                       groups=batch * channels).view_as(out)
    return torch.where(apply[:, None, None, None], out, images)


class ColorJitterBlur:
    """Colour jitter and blur of a normalised batch (module docstring), configured by
    a dict whose keys are this class's arguments; errors name ``config_key``.

    Args:
        mean, std: the data preprocessor's per-channel normalisation (3 values each).
        color_jitter_strength: s; factors in [1 - s, 1 + s], hue within s of a turn.
        color_jitter_prob: probability of jittering an image (DAFormer: 0.8).
        blur_prob: probability of blurring an image (DAFormer: 0.5).
        blur_sigma: range of the blur's sigma in pixels (DAFormer: 0.15-1.15).
        blur_kernel_ratio: kernel side over image side (DAFormer: 0.1).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float],
                 color_jitter_strength: float = 0.2, color_jitter_prob: float = 0.8,
                 blur_prob: float = 0.5, blur_sigma: Tuple[float, float] = (0.15, 1.15),
                 blur_kernel_ratio: float = 0.1, config_key: str = 'augmentation') -> None:
        for name, value in (('color_jitter_prob', color_jitter_prob),
                            ('blur_prob', blur_prob),
                            ('color_jitter_strength', color_jitter_strength)):
            if not 0 <= value <= 1:
                raise ValueError(f'{config_key}.{name} must lie in [0, 1], got {value}')
        if not 0 < blur_sigma[0] <= blur_sigma[1]:
            raise ValueError(f'{config_key}.blur_sigma must be (low, high) with '
                             f'0 < low <= high, got {blur_sigma}')
        self.mean = torch.as_tensor(mean, dtype=torch.float).view(1, -1, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.float).view(1, -1, 1, 1)
        self.strength = color_jitter_strength
        self.jitter_prob = color_jitter_prob
        self.blur_prob = blur_prob
        self.blur_sigma = blur_sigma
        self.kernel_ratio = blur_kernel_ratio

    def __call__(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) normalised images -> the same, jittered and blurred."""
        batch, device = images.shape[0], images.device
        mean, std = self.mean.to(device), self.std.to(device)
        draws = torch.rand(batch, 3, device=device)
        pixels = ((images * std + mean) / 255).clamp(0, 1)
        pixels = color_jitter(pixels, self.strength, draws[:, 0] < self.jitter_prob)
        low, high = self.blur_sigma
        pixels = gaussian_blur(pixels, low + (high - low) * draws[:, 2],
                               self.kernel_ratio, draws[:, 1] < self.blur_prob)
        return (pixels * 255 - mean) / std
