"""Source images recoloured to target colour statistics in CIE LAB space (the
authors' code does this to every GTA5 image; the paper does not mention it).

Per channel of the LAB image: ``(x - mean_source) / std_source * std_ref + mean_ref``,
where the reference statistics are those of one target image drawn at random per
sample. Reference statistics are computed once per file and cached.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

_IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp')


def lab_statistics(bgr: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (3,) of a uint8 BGR image in LAB (L 0-100)."""
    lab = cv2.cvtColor(bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2LAB)
    flat = lab.reshape(-1, 3).astype(np.float64)
    return flat.mean(axis=0), flat.std(axis=0)


def transfer_lab(bgr: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``bgr`` (H, W, 3) uint8 with its LAB channels moved to ``mean`` / ``std``."""
    lab = cv2.cvtColor(bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2LAB)
    own_mean = lab.reshape(-1, 3).mean(axis=0)
    own_std = lab.reshape(-1, 3).std(axis=0)
    lab = (lab - own_mean) / np.maximum(own_std, 1e-6) * std + mean
    lab[..., 0] = np.clip(lab[..., 0], 0.0, 100.0)
    bgr_out = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2BGR)
    return np.clip(bgr_out * 255.0 + 0.5, 0, 255).astype(np.uint8)


@TRANSFORMS.register_module()
class LabColorTransfer(BaseTransform):
    """Move ``img`` to the LAB mean/std of a random image of ``reference_dir``.

    Args:
        reference_dir: folder of target images (searched recursively), e.g.
            ``data/cityscapes/leftImg8bit/train``.
        prob: probability of recolouring a sample (reference code: 1).

    Raises:
        FileNotFoundError: naming ``reference_dir`` when it holds no image (when the
            transform is built, before any training step).
    """

    def __init__(self, reference_dir: str, prob: float = 1.0) -> None:
        self.reference_dir = reference_dir
        self.prob = prob
        self.references = self._list_images(reference_dir)
        self._cache: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}

    @staticmethod
    def _list_images(folder: str) -> List[str]:
        found = sorted(
            osp.join(root, name) for root, _, names in os.walk(folder) for name in names
            if name.lower().endswith(_IMAGE_SUFFIXES))
        if not found:
            raise FileNotFoundError(f'LabColorTransfer: no image under reference_dir='
                                    f'{folder!r}')
        return found

    def _reference(self, path: str) -> Tuple[np.ndarray, np.ndarray]:
        if path not in self._cache:
            self._cache[path] = lab_statistics(mmcv.imread(path, channel_order='bgr'))
        return self._cache[path]

    def transform(self, results: dict) -> Optional[dict]:
        if np.random.rand() >= self.prob:
            return results
        path = self.references[np.random.randint(len(self.references))]
        mean, std = self._reference(path)
        results['img'] = transfer_lab(results['img'], mean, std)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(reference_dir={self.reference_dir!r}, '
                f'prob={self.prob})')
