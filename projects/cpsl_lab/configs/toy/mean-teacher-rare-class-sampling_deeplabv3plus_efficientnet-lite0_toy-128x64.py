# One-ingredient A/B against the toy mean teacher
# (./mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py):
# DAFormer's rare class sampling of the source images (temperature 0.01, class
# statistics counted when the dataset is built).
# Everything else as the mean teacher; values and why they are toy-sized:
# ../_base_/uda/toy_spine.py.
_base_ = [
    './mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py',
    '../_base_/uda/toy_spine.py'
]
train_dataloader = dict(dataset=dict(rare_class_sampling=_base_.toy_rare_class_sampling))
