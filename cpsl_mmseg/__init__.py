"""cpsl_mmseg: CPSL for MMSegmentation 1.x. Importing it registers every component."""
from . import compat  # noqa: F401  (applies the pinned-stack shims first)
from . import clustering, datasets, engine, evaluation, models, utils  # noqa: F401
from .version import __version__

__all__ = ['__version__']
