"""Online clustering for CPSL: framework-free tensor code, one idea per module.

Sinkhorn (Eq. 6, 12), the pixel memory bank (Sec. 3.2), class-balanced sampling
(Eq. 8-9), the class prior (Eq. 10-11), class prototypes (Eq. 7) and the rectified
pseudo label (Eq. 1).
"""
from .class_prior import PRIOR_MODES, ClassPrior
from .memory_bank import PixelMemoryBank
from .prototypes import PrototypeAccumulator
from .rectification import (confident_argmax, normalised_confidence, rectified_confidence,
                            rectify_pseudo_labels)
from .sampling import (class_balanced_sample, class_distribution, class_quotas,
                       gather_pixels, uniform_sample)
from .sinkhorn import distribution_aligned_sinkhorn

__all__ = [
    'PRIOR_MODES', 'ClassPrior', 'PixelMemoryBank', 'PrototypeAccumulator',
    'class_balanced_sample', 'class_quotas', 'class_distribution', 'confident_argmax',
    'distribution_aligned_sinkhorn', 'gather_pixels', 'normalised_confidence',
    'rectified_confidence', 'rectify_pseudo_labels', 'uniform_sample'
]
