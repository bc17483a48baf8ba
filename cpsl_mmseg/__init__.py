"""cpsl_mmseg: CPSL for MMSegmentation 1.x. Importing it registers every component."""
from .version import __version__

__all__ = ['__version__']
