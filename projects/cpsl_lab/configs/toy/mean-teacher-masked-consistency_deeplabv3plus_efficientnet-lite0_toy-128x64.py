# One-ingredient A/B against the toy mean teacher
# (./mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py):
# MIC's masked image consistency (16-pixel blocks, ratio 0.7, weight 1) on the mean
# teacher's CutMix spine.
# Everything else as the mean teacher; values and why they are toy-sized:
# ../_base_/uda/toy_spine.py.
_base_ = [
    './mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py',
    '../_base_/uda/toy_spine.py'
]
model = dict(**_base_.toy_masked_consistency)
