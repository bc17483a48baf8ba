# The self-training baseline of the pretrained toy family: the from-scratch family's
# mean teacher with the pretrained segmentor, its backbone at a tenth of the rate.
_base_ = [
    './mean-teacher_deeplabv3plus_r18-tiny_toy-128x64.py',
    '../../../../configs/_base_/models/deeplabv3plus_efficientnet-lite0.py'
]
data_preprocessor = _base_.efficientnet_preprocessor
# The pretrained family's EMA decay 0.999 (../../../../configs/_base_/uda/cpu_adaptation.py
# says why it differs from the from-scratch family's 0.99).
model = dict(segmentor=dict(_delete_=True, **_base_.efficientnet_deeplabv3plus),
             **_base_.pretrained_cpu_adaptation)
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'student.backbone': dict(lr_mult=0.1)}))
