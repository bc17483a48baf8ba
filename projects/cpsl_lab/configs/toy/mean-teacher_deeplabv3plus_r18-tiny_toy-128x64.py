# The self-training baseline of the toy pipeline: the mean teacher alone (no
# self-labeling, no stored P_ST: the EMA teacher's own argmax labels the strong view),
# on the network, data, schedule and toy settings of the toy CPSL config.
_base_ = [
    '../_base_/models/deeplabv3plus_r18-tiny-d8.py',
    '../_base_/datasets/toy_uda.py',
    '../../../../configs/_base_/uda/mean_teacher.py',
    '../../../../configs/_base_/uda/cpu_adaptation.py', '../_base_/default_runtime.py',
    '../../../../configs/_base_/schedules/cpu_adaptation_300it.py'
]
model = dict(_delete_=True, **_base_.mean_teacher)
model.update(segmentor=_base_.model, **_base_.cpu_adaptation)
train_dataloader = dict(
    dataset=dict(target=dict(pipeline=_base_.self_training_target_pipeline)))
custom_hooks = _base_.mean_teacher_hooks
randomness = dict(seed=0)
