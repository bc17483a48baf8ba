# One-ingredient A/B against the toy mean teacher
# (./mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py):
# DAFormer's EMA ramp-up (decay min(1 - 1/(t+1), 0.99) at the t-th teacher update).
# Everything else as the mean teacher; values and why they are toy-sized:
# ../_base_/uda/toy_spine.py.
_base_ = [
    './mean-teacher_deeplabv3plus_efficientnet-lite0_toy-128x64.py',
    '../_base_/uda/toy_spine.py'
]
model = dict(**_base_.toy_ema_rampup)
