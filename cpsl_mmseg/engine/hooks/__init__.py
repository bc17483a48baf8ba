"""Hooks: the EMA teacher (``MeanTeacherHook``), CPSL's clustering statistics
(``OnlineClusteringHook``), checkpoints that survive kills and resume exactly
(``CrashSafeCheckpointHook``), checks before the first iteration
(``PreflightCheckHook``) and a DDP state guard (``RankConsistencyHook``)."""
from .crash_safe_checkpoint_hook import CrashSafeCheckpointHook
from .mean_teacher_hook import MeanTeacherHook
from .online_clustering_hook import OnlineClusteringHook
from .preflight_check_hook import PreflightCheckHook
from .rank_consistency_hook import RankConsistencyHook

__all__ = [
    'CrashSafeCheckpointHook', 'MeanTeacherHook', 'OnlineClusteringHook',
    'PreflightCheckHook', 'RankConsistencyHook'
]
