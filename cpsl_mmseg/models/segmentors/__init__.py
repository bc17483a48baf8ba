"""Segmentors."""
from .cpsl import CPSL

__all__ = ['CPSL']
