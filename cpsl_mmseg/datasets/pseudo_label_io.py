"""On-disk format of the soft pseudo labels P_ST (paper Sec. 3.1, Algorithm 1 line 1).

One file per target image, ``<dir>/<image stem>.npy``, holding a uint8 array of
shape (C, h, w) at the network's output stride: probability p is stored as
``round(255 * p)`` and read back renormalised over C. That is C*h*w bytes per image
(19 x 128 x 256 = 0.62 MB for a 1024x2048 Cityscapes image at stride 8), a quarter
of fp16 and a sixteenth of the reference code's float32 maps; the quantisation error
per probability is at most 1/510 before renormalisation.

Files are written through a temporary file and ``os.replace``, so an interrupted
writer never leaves a truncated map behind, and get the usual file mode (0666 less the
umask). Which checkpoint wrote a directory is recorded by :mod:`.pseudo_label_dir`.
"""
import os
import os.path as osp
import tempfile
from typing import Optional

import numpy as np
import torch

PSEUDO_LABEL_SUFFIX = '.npy'


def quantize_probabilities(probs: torch.Tensor) -> np.ndarray:
    """(C, h, w) float probabilities -> (C, h, w) uint8 codes."""
    if probs.dim() != 3:
        raise ValueError(f'expected (C, h, w) probabilities, got shape '
                         f'{tuple(probs.shape)}')
    codes = (probs.float().clamp(0, 1) * 255).round().to(torch.uint8)
    return codes.cpu().numpy()


def dequantize_probabilities(codes: np.ndarray) -> np.ndarray:
    """(C, h, w) uint8 codes -> (C, h, w) float32 probabilities summing to 1 over C.

    A pixel whose codes are all zero (every class below 1/510) becomes uniform.
    """
    probs = codes.astype(np.float32)
    total = probs.sum(axis=0, keepdims=True)
    uniform = np.float32(1.0 / probs.shape[0])
    return np.where(total > 0, probs / np.maximum(total, 1e-12), uniform)


def pseudo_label_path(pseudo_label_dir: str, img_path: str) -> str:
    """Where the soft pseudo label of ``img_path`` lives inside ``pseudo_label_dir``."""
    stem = osp.splitext(osp.basename(img_path))[0]
    return osp.join(pseudo_label_dir, stem + PSEUDO_LABEL_SUFFIX)


def file_mode() -> int:
    """The mode ``open()`` gives a new file: 0666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_soft_pseudo_label(path: str, probs: torch.Tensor) -> None:
    """Atomically write the (C, h, w) probability map ``probs`` to ``path``."""
    codes = quantize_probabilities(probs)
    directory = osp.dirname(path) or '.'
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix='.tmp')
    try:
        os.fchmod(fd, file_mode())  # mkstemp creates 0600
        with os.fdopen(fd, 'wb') as f:
            np.save(f, codes)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def load_soft_pseudo_label(path: str,
                           num_classes: Optional[int] = None) -> np.ndarray:
    """Read a map written by :func:`save_soft_pseudo_label` as float32 (C, h, w).

    Raises:
        FileNotFoundError: naming ``path`` when it is missing.
        ValueError: naming ``path`` when it is not a (C, h, w) uint8 array or its C
            differs from ``num_classes``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'soft pseudo label not found: {path} (run '
                                'tools/generate_pseudo_labels.py first?)')
    try:
        codes = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f'unreadable soft pseudo label {path}: {err}') from err
    if codes.dtype != np.uint8 or codes.ndim != 3:
        raise ValueError(f'soft pseudo label {path} must be a uint8 (C, h, w) '
                         f'array, got {codes.dtype} {codes.shape}')
    if num_classes is not None and codes.shape[0] != num_classes:
        raise ValueError(f'soft pseudo label {path} has {codes.shape[0]} '
                         f'classes, expected {num_classes}')
    return dequantize_probabilities(codes)


def is_valid_soft_pseudo_label(path: str, num_classes: int) -> bool:
    """True when ``path`` holds a readable map with ``num_classes`` classes."""
    try:
        load_soft_pseudo_label(path, num_classes)
    except (FileNotFoundError, ValueError):
        return False
    return True
