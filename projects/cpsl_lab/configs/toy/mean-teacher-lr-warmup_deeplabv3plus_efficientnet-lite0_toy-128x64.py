# One-ingredient A/B against the toy mean teacher
# (./mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py):
# a linear learning-rate warm-up over the first 12 iterations (DAFormer: 1,500 of
# 40,000).
# Everything else as the mean teacher; values and why they are toy-sized:
# ../_base_/uda/toy_spine.py.
_base_ = [
    './mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py',
    '../_base_/uda/toy_spine.py'
]
param_scheduler = [_base_.toy_linear_warmup, *_base_.param_scheduler]
