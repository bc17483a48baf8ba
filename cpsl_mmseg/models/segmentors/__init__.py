"""Segmentors: every UDA method wraps any mmseg segmentor through ``UDASegmentor``.

``MeanTeacherSelfTraining`` (the self-training baseline) and ``CPSL`` on it;
``AdversarialWarmup`` (the paper's warm-up) and ``CPSLDistill`` (KD-1, KD-2).
"""
from .adversarial_warmup import AdversarialWarmup
from .cpsl import CPSL
from .distill import CPSLDistill
from .mean_teacher import MeanTeacherSelfTraining
from .uda_base import UDASegmentor

__all__ = [
    'AdversarialWarmup', 'CPSL', 'CPSLDistill', 'MeanTeacherSelfTraining', 'UDASegmentor'
]
