"""Transforms for the target stream: P_ST loading, the strong view, packing."""
from .formatting import PackUDATargetInputs
from .soft_pseudo_label import LoadSoftPseudoLabel, sample_soft_pseudo_label
from .strong_view import StrongPhotometricView

__all__ = [
    'LoadSoftPseudoLabel', 'PackUDATargetInputs', 'StrongPhotometricView',
    'sample_soft_pseudo_label'
]
