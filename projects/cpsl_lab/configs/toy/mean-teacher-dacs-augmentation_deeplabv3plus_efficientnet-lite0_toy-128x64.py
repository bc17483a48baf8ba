# One-ingredient A/B against the toy mean teacher
# (./mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py):
# DACS / DAFormer's photometric augmentation: colour jitter and blur of the mixed image
# (CutMix kept) in place of the strong view.
# Everything else as the mean teacher; values and why they are toy-sized:
# ../_base_/uda/toy_spine.py.
_base_ = [
    './mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py',
    '../_base_/uda/toy_spine.py'
]
model = dict(**_base_.toy_dacs_augmentation)
train_dataloader = dict(dataset=dict(target=dict(pipeline=[
    dict(type='LoadImageFromFile'), *_base_.target_geometry,
    dict(type='PackUDATargetInputs')])))
