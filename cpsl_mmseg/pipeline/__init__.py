"""The stage pipeline (``tools/run_pipeline.py``; ``docs/pipeline.md``): the stages a
config declares (:mod:`.spec`), each a tool run from a config file of its own
(:mod:`.stage_config`, :mod:`.settings`), on one process, N processes or a SLURM
cluster (:mod:`.launch`), resumable stage by stage (:mod:`.records`, :mod:`.runner`),
of the kinds registered in :data:`.kinds.STAGE_KINDS` (the plug-in's: :mod:`.stages`),
planned without running (:mod:`.dry_run`), summarised with a check of every stage
against the network it started from (:mod:`.summary`, :mod:`.adaptation`).

Not imported by ``import cpsl_mmseg``: the pipeline is a tool, not a component.
"""
from . import stages  # noqa: F401  (registers the plug-in's stage kinds)
from .kinds import STAGE_KINDS, StageKind
from .launch import Launcher
from .runner import Pipeline

__all__ = ['Launcher', 'Pipeline', 'STAGE_KINDS', 'StageKind']
