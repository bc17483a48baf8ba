# The CPSL smoke config with another mmseg architecture (SegFormer), swapped in by
# the model base file only.
_base_ = [
    '../_base_/models/segformer_mit-tiny.py', '../_base_/datasets/smoke_uda.py',
    '../_base_/uda/cpsl.py', '../_base_/default_runtime.py',
    '../_base_/schedules/smoke_20it.py'
]
model = dict(_delete_=True, **_base_.cpsl)
model.update(segmentor=_base_.model, memory_bank_images=16, samples_per_image=16)
optim_wrapper = dict(paramwise_cfg=_base_.cpsl_paramwise_cfg)
custom_hooks = _base_.cpsl_hooks + [dict(type='RankConsistencyHook')]
randomness = dict(seed=0)
