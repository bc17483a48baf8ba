"""Segmentors."""
from .adversarial_warmup import AdversarialWarmup  # noqa: F401
from .cpsl import CPSL
from .distill import CPSLDistill  # noqa: F401

__all__ = ['CPSL']
