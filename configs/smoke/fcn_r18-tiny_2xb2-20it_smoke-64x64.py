# Smoke config: proves train/resume/test/distributed tooling on a CPU in seconds.
_base_ = [
    '../_base_/models/fcn_r18-tiny.py', '../_base_/datasets/smoke_shapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/smoke_20it.py'
]
randomness = dict(seed=0)
custom_hooks = [dict(type='RankConsistencyHook')]
