"""The stage pipeline: warm-up -> (BN calibration) -> P_ST -> prototypes ->
self-training baseline and CPSL (-> oracle) -> analysis, each stage a tool run from
a config file of its own (:mod:`.stage_config`), resumable stage by stage
(:mod:`.runner`), summarised in tables and figures (:mod:`.summary`)."""
from .runner import Pipeline

__all__ = ['Pipeline']
