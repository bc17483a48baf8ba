# The self-training baseline of the pretrained toy family: the from-scratch family's
# mean teacher with the pretrained segmentor, its backbone at a tenth of the rate.
_base_ = [
    './mean-teacher_deeplabv3plus_r18-tiny_toy-128x64.py',
    '../../../../configs/_base_/models/deeplabv3plus_efficientnet-lite0.py'
]
data_preprocessor = _base_.efficientnet_preprocessor
model = dict(segmentor=dict(_delete_=True, **_base_.efficientnet_deeplabv3plus))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'student.backbone': dict(lr_mult=0.1)}))
