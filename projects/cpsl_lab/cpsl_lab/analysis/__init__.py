"""Analysis of CPSL runs: pseudo-label statistics and figures.

``statistics`` (torch only) is imported here; ``figures`` needs matplotlib and is
imported on use: ``from cpsl_lab.analysis.figures import plot_class_distributions``.
"""
from .statistics import ConfusionMatrix, class_counts, kl_divergence, shares

__all__ = ['ConfusionMatrix', 'class_counts', 'kl_divergence', 'shares']
