# The self-training baseline of the own-data recipe: the mean teacher alone (no
# self-labeling, no stored P_ST: the EMA teacher's own argmax labels the strong view),
# on the network, data, schedule and adaptation settings of the CPSL stage.
_base_ = [
    '../_base_/models/deeplabv3plus_efficientnet-lite0.py',
    '../_base_/datasets/folders_uda.py', '../_base_/uda/mean_teacher.py',
    '../_base_/uda/cpu_adaptation.py', '../_base_/default_runtime.py',
    '../_base_/schedules/cpu_adaptation_300it.py'
]
data_preprocessor = _base_.efficientnet_preprocessor
segmentor = dict(
    _base_.efficientnet_deeplabv3plus,
    decode_head=dict(_base_.efficientnet_deeplabv3plus['decode_head'],
                     num_classes=len(_base_.classes)))
model = dict(_base_.mean_teacher, segmentor=segmentor, **_base_.pretrained_cpu_adaptation)
train_dataloader = dict(
    dataset=dict(target=dict(pipeline=_base_.self_training_target_pipeline)))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'student.backbone': dict(lr_mult=0.1)}))
custom_hooks = _base_.mean_teacher_hooks
randomness = dict(seed=0)
