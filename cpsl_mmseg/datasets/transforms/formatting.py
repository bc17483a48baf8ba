"""Packing a target-domain sample: weak view, strong view and aligned P_ST."""
import numpy as np
from mmcv.transforms import to_tensor
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

from .full_image_view import FULL_COORD_KEY, FULL_IMG_KEY
from .soft_pseudo_label import (COORD_KEY, SOFT_LABEL_KEY,
                                sample_soft_pseudo_label)
from .strong_view import STRONG_IMG_KEY


def _image_to_tensor(img: np.ndarray):
    if img.ndim < 3:
        img = img[..., None]
    return to_tensor(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackUDATargetInputs(PackSegInputs):
    """``PackSegInputs`` for target images, plus the CPSL extras.

    Packed keys: ``inputs`` (weak view, (3, H, W) uint8), ``inputs_strong`` (strong
    view, same shape; only when ``StrongPhotometricView`` ran) and ``data_samples``
    (``SegDataSample``; ``gt_sem_seg`` when the GT was loaded, for evaluation and
    diagnostics only; ``soft_pseudo_label`` = P_ST aligned with the crop as a
    (C, H, W) float32 ``PixelData`` when ``LoadSoftPseudoLabel`` ran; padded pixels
    hold all-zero probabilities); with ``FullImageView``, ``inputs_full`` (the whole
    image, (3, H0, W0) uint8) and ``full_image_coords`` ((2, H, W) float32: where in
    it each crop pixel came from).
    """

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if STRONG_IMG_KEY in results:
            packed['inputs_strong'] = _image_to_tensor(results[STRONG_IMG_KEY])
        if SOFT_LABEL_KEY in results:
            aligned = sample_soft_pseudo_label(results[SOFT_LABEL_KEY],
                                               results[COORD_KEY])
            packed['data_samples'].set_data(
                dict(soft_pseudo_label=PixelData(data=aligned)))
        if FULL_IMG_KEY in results:
            packed['inputs_full'] = _image_to_tensor(results[FULL_IMG_KEY])
            packed['data_samples'].set_data(dict(full_image_coords=PixelData(
                data=_image_to_tensor(results[FULL_COORD_KEY]).float())))
        return packed
