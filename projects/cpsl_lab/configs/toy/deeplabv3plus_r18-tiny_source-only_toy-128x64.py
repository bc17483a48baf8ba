# Warm-up stage on the toy domains: source-only training, evaluated on target val.
_base_ = [
    '../_base_/models/deeplabv3plus_r18-tiny-d8.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../../../../configs/_base_/schedules/cpu_warmup_600it.py'
]
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.source_train))
randomness = dict(seed=0)
