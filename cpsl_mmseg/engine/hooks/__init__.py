"""Hooks: the EMA teacher (``MeanTeacherHook``), CPSL's clustering statistics
(``OnlineClusteringHook``) and a DDP state guard (``RankConsistencyHook``)."""
from .mean_teacher_hook import MeanTeacherHook
from .online_clustering_hook import OnlineClusteringHook
from .rank_consistency_hook import RankConsistencyHook

__all__ = ['MeanTeacherHook', 'OnlineClusteringHook', 'RankConsistencyHook']
