"""utils."""
from .prototypes import PrototypeAccumulator  # noqa: F401
from .rectification import rectify_pseudo_labels  # noqa: F401
