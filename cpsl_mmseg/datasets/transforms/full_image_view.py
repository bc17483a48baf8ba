"""The whole target image beside its training crop, for a teacher that sees the full
un-augmented image (the reference code; ``model.teacher_input='full_image'``).

The transform keeps a copy of the loaded image and adds a 2-channel source-coordinate
map (as ``LoadSoftPseudoLabel`` does for P_ST) to ``seg_fields``: every geometric
transform moves it with the crop, so after the pipeline each crop pixel knows where
in the full image it came from, and the teacher's outputs on the full image can be
read there (:func:`cpsl_mmseg.models.utils.crop_mapping.crop_from_full`).
"""
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from .soft_pseudo_label import source_coordinate_map

FULL_IMG_KEY = 'img_full'
FULL_COORD_KEY = 'full_image_coords'


@TRANSFORMS.register_module()
class FullImageView(BaseTransform):
    """Keep the loaded image (``img_full``) and its coordinate map
    (``full_image_coords``, in ``seg_fields``). Place it right after
    ``LoadImageFromFile``, before any geometric transform."""

    def transform(self, results: dict) -> dict:
        results[FULL_IMG_KEY] = results['img'].copy()
        height, width = results['img'].shape[:2]
        results[FULL_COORD_KEY] = source_coordinate_map(height, width)
        results.setdefault('seg_fields', []).append(FULL_COORD_KEY)
        return results
