"""Engine: hooks, the Eq. 7 / Eq. 10 pass, optimiser constructors."""
from . import hooks  # noqa: F401
from . import submodule_optim_constructor  # noqa: F401
