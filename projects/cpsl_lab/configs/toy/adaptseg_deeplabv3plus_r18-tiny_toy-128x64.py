# The paper's warm-up on the toy domains (run_pipeline.py --warmup adversarial):
# output-space adversarial training (configs/_base_/uda/adaptseg.py, as in
# configs/warmup/) of the toy DeepLabV3+ with a half-width discriminator. The segmentor keeps the
# source-only warm-up's schedule (600 iterations AdamW 3e-3, batch 8).
_base_ = [
    './deeplabv3plus_r18-tiny_source-only_toy-128x64.py',
    '../../../../configs/_base_/uda/adaptseg.py'
]
model = dict(
    _base_.adaptseg,
    _delete_=True,
    segmentor=_base_.model,
    discriminator=dict(_base_.adaptseg['discriminator'], base_channels=32))
# Paired batches; the target images need no pseudo labels and no strong view.
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='UDADataset',
        source=_base_.source_train,
        target=dict(_base_.target_train,
                    pipeline=_base_.plain_target_pipeline)))
optim_wrapper = dict(
    _delete_=True,
    constructor='SubmoduleOptimWrapperConstructor',
    student=dict(type='OptimWrapper', optimizer=_base_.optimizer),
    discriminator=_base_.discriminator_optim_wrapper)
param_scheduler = dict(
    _delete_=True,
    student=[
        dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
             end=_base_.max_iters, by_epoch=False)
    ],
    discriminator=[
        dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0,
             end=_base_.max_iters, by_epoch=False)
    ])
