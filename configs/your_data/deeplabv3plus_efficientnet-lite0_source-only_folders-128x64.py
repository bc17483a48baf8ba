# Warm-up of the own-data recipe (./cpsl_deeplabv3plus_efficientnet-lite0_folders-
# 128x64.py runs it as its first stage, on your data and network): source-only
# training of DeepLabV3+ on the ImageNet-pretrained EfficientNet-Lite0, evaluated on
# target val. The CPU example's schedule (AdamW 3e-3, 600 iterations, batch 8), the
# backbone at a tenth of the rate (the head learns from scratch, the backbone is only
# adjusted).
_base_ = [
    '../_base_/models/deeplabv3plus_efficientnet-lite0.py',
    '../_base_/datasets/folders_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/cpu_warmup_600it.py'
]
data_preprocessor = _base_.efficientnet_preprocessor
model = dict(
    _base_.efficientnet_deeplabv3plus,
    decode_head=dict(_base_.efficientnet_deeplabv3plus['decode_head'],
                     num_classes=len(_base_.classes)))
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.source_train))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
randomness = dict(seed=0)
