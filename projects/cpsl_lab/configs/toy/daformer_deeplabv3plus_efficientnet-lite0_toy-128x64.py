# The DAFormer spine on the toy's pretrained family: the mean teacher
# (./mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py) with DAFormer's
# self-training ingredients at toy scale (../_base_/uda/toy_spine.py: ClassMix with
# DACS jitter / blur of the weak view in place of the strong view, quality-weighted
# pseudo labels, the EMA ramp-up, the ImageNet feature distance on sign / person /
# car), rare class sampling and a linear learning-rate warm-up. Same network, warm-up,
# data and schedule length as the mean teacher; the pipeline's optional stage
# `daformer`.
_base_ = [
    './mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py',
    '../_base_/uda/toy_spine.py'
]
model = dict(**_base_.toy_daformer)
train_dataloader = dict(dataset=dict(
    target=dict(pipeline=[dict(type='LoadImageFromFile'), *_base_.target_geometry,
                          dict(type='PackUDATargetInputs')]),
    rare_class_sampling=_base_.toy_rare_class_sampling))
param_scheduler = [_base_.toy_linear_warmup, *_base_.param_scheduler]
