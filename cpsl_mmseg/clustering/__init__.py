"""Online clustering for CPSL: framework-free tensor code, one idea per module.

Sinkhorn (Eq. 6, 12), the pixel memory bank (Sec. 3.2), class-balanced sampling
(Eq. 8-9) and the class prior (Eq. 10-11).
"""
from .class_prior import PRIOR_MODES, ClassPrior
from .memory_bank import PixelMemoryBank
from .sampling import class_balanced_sample, class_distribution, uniform_sample
from .sinkhorn import distribution_aligned_sinkhorn

__all__ = [
    'PRIOR_MODES', 'ClassPrior', 'PixelMemoryBank', 'class_balanced_sample',
    'class_distribution', 'uniform_sample', 'distribution_aligned_sinkhorn'
]
