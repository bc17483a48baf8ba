"""On-disk format of the soft pseudo labels P_ST (paper Sec. 3.1, Algorithm 1 line 1).

One file per target image, ``<dir>/<image stem>.npy``: a (C, h, w) array of one byte
per class and pixel at the network's output stride (19 x 128 x 256 = 0.62 MB for a
1024x2048 Cityscapes image at stride 8, a quarter of the reference code's float32
maps). Maps are read back as float32 and renormalised over C.

The byte is a log-domain code, because Eq. 1 (argmax of P_SL * P_ST) can promote a
class only if its P_ST is not zero: ``code = round(-ln(p) * LOG_SCALE)`` for p down to
``LOG_FLOOR`` = 1e-6 (codes 0-254, ``LOG_SCALE = 254 / ln(1e6)``), and 255 for smaller
p, read as 0. Every p in [1e-6, 1] reads back within 2.8 % relative error
(``exp(0.5 / LOG_SCALE) - 1``) before renormalisation. The array's dtype is a
one-field structured uint8 named ``LOG_FIELD``, which tells the format apart from the
first one: a plain uint8 array of ``round(255 * p)`` (every p under 1/510 stored as 0),
which is still read, with its own decoding.

Files are written through a temporary file and ``os.replace``, so an interrupted
writer never leaves a truncated map behind, and get the usual file mode (0666 less the
umask). Which checkpoint wrote a directory is recorded by :mod:`.pseudo_label_dir`.
"""
import math
import os
import os.path as osp
import tempfile
from typing import Optional

import numpy as np
import torch

PSEUDO_LABEL_SUFFIX = '.npy'
LOG_FLOOR = 1e-6
LOG_SCALE = 254 / math.log(1 / LOG_FLOOR)
LOG_FIELD = 'neg_log_p'
LOG_DTYPE = np.dtype([(LOG_FIELD, np.uint8)])
ZERO_CODE = 255
# p of every log code (255: zero), float32
_LOG_TABLE = np.append(np.exp(-np.arange(255) / LOG_SCALE), 0.0).astype(np.float32)


def quantize_probabilities(probs: torch.Tensor) -> np.ndarray:
    """(C, h, w) float probabilities -> (C, h, w) log-domain codes (``LOG_DTYPE``)."""
    if probs.dim() != 3:
        raise ValueError(f'expected (C, h, w) probabilities, got shape '
                         f'{tuple(probs.shape)}')
    probs = probs.detach().float().clamp(0, 1)
    codes = (-torch.log(probs.clamp_min(1e-30)) * LOG_SCALE).round()
    codes = torch.where(codes > ZERO_CODE - 1, torch.full_like(codes, ZERO_CODE), codes)
    return codes.to(torch.uint8).cpu().numpy().view(LOG_DTYPE)


def _renormalised(probs: np.ndarray) -> np.ndarray:
    """Probabilities summing to 1 over C; a pixel with no mass at all becomes uniform."""
    total = probs.sum(axis=0, keepdims=True)
    uniform = np.float32(1.0 / probs.shape[0])
    return np.where(total > 0, probs / np.maximum(total, 1e-30), uniform)


def dequantize_probabilities(codes: np.ndarray) -> np.ndarray:
    """(C, h, w) codes of either format -> (C, h, w) float32 probabilities summing to 1
    over C."""
    if codes.dtype == LOG_DTYPE:
        return _renormalised(_LOG_TABLE[codes.view(np.uint8)])
    return _renormalised(codes.astype(np.float32))  # the first, linear format


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
    """Read a map written by :func:`save_soft_pseudo_label` (either format) as float32
    (C, h, w).

    Raises:
        FileNotFoundError: naming ``path`` when it is missing.
        ValueError: naming ``path`` when it is not a (C, h, w) array of one of the two
            formats or its C differs from ``num_classes``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'soft pseudo label not found: {path} (run '
                                'tools/generate_pseudo_labels.py first?)')
    try:
        codes = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f'unreadable soft pseudo label {path}: {err}') from err
    if codes.dtype not in (LOG_DTYPE, np.dtype(np.uint8)) or codes.ndim != 3:
        raise ValueError(f'soft pseudo label {path} must be a (C, h, w) array of '
                         f'log-domain codes ({LOG_DTYPE}) or of the first format '
                         f'(uint8), got {codes.dtype} {codes.shape}')
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
