"""Hooks."""
from .online_clustering_hook import OnlineClusteringHook
from .rank_consistency_hook import RankConsistencyHook

__all__ = ['OnlineClusteringHook', 'RankConsistencyHook']
