# Warm-up stage of the pretrained toy family: source-only training of DeepLabV3+ on the
# ImageNet-pretrained EfficientNet-Lite0 (../_base_/models/deeplabv3plus_efficientnet-
# lite0.py), evaluated on target val. Data and schedule of the from-scratch warm-up
# (AdamW 3e-3, 600 iterations, batch 8), with the pretrained backbone at a tenth of the
# rate: the new head learns from scratch, the backbone is only adjusted (as the paper's
# ResNet-101 is, at SGD 2.5e-4 over 90k iterations; 600 AdamW steps are not that).
_base_ = [
    './deeplabv3plus_r18-tiny_source-only_toy-128x64.py',
    '../../../../configs/_base_/models/deeplabv3plus_efficientnet-lite0.py'
]
data_preprocessor = _base_.efficientnet_preprocessor
model = dict(_delete_=True, **_base_.efficientnet_deeplabv3plus)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
