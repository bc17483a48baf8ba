"""Engine: hooks, optimiser constructors."""
from . import hooks  # noqa: F401
from . import submodule_optim_constructor  # noqa: F401
