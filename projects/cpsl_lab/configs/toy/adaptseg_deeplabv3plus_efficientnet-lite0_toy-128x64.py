# The paper's output-space adversarial warm-up for the pretrained toy family
# (run_pipeline.py --warmup adversarial): the from-scratch family's adversarial warm-up
# with the pretrained segmentor and its optimiser settings.
_base_ = [
    './adaptseg_deeplabv3plus_r18-tiny_toy-128x64.py',
    '../../../../configs/_base_/models/deeplabv3plus_efficientnet-lite0.py'
]
data_preprocessor = _base_.efficientnet_preprocessor
model = dict(segmentor=dict(_delete_=True, **_base_.efficientnet_deeplabv3plus))
optim_wrapper = dict(
    student=dict(paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)})))
