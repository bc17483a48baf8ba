"""Transforms for the target stream (P_ST loading, the strong view, packing) and the
reference code's LAB colour transfer of source images."""
from .formatting import PackUDATargetInputs
from .full_image_view import FullImageView
from .lab_color_transfer import LabColorTransfer
from .soft_pseudo_label import LoadSoftPseudoLabel, sample_soft_pseudo_label
from .strong_view import StrongPhotometricView

__all__ = [
    'FullImageView', 'LabColorTransfer', 'LoadSoftPseudoLabel', 'PackUDATargetInputs', 'StrongPhotometricView',
    'sample_soft_pseudo_label'
]
