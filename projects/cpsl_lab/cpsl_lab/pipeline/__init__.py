"""The stage pipeline: the stages a config declares (:mod:`.spec`), each a tool run
from a config file of its own (:mod:`.stage_config`), on one process, N processes or a
SLURM cluster (:mod:`.launch`), resumable stage by stage (:mod:`.records`,
:mod:`.runner`, :mod:`.stages`), summarised in tables and figures (:mod:`.summary`)."""
from .launch import Launcher
from .runner import Pipeline

__all__ = ['Launcher', 'Pipeline']
