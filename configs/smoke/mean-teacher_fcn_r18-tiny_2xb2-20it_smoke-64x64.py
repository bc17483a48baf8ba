# Mean-teacher smoke config: the self-training baseline (MeanTeacherSelfTraining) on
# the smoke domains, in seconds on a CPU.
_base_ = [
    '../_base_/models/fcn_r18-tiny.py', '../_base_/datasets/smoke_uda.py',
    '../_base_/uda/mean_teacher.py', '../_base_/default_runtime.py',
    '../_base_/schedules/smoke_20it.py'
]
model = dict(_delete_=True, **_base_.mean_teacher)
model.update(segmentor=_base_.model)
train_dataloader = dict(
    dataset=dict(target=dict(pipeline=_base_.self_training_target_pipeline)))
custom_hooks = _base_.mean_teacher_hooks + [dict(type='RankConsistencyHook')]
randomness = dict(seed=0)
