# The paper's warm-up on the toy domains (tools/run_pipeline.py --warmup adversarial):
# output-space adversarial training (AdaptSegNet style, as in
# configs/warmup/adaptseg_*) of the toy DeepLabV3+: source cross-entropy plus a
# least-squares GAN loss (weight 0.01) that makes target softmax maps look like
# source ones to a fully convolutional discriminator (Adam 1e-4). The segmentor keeps
# the source-only warm-up's schedule (600 iterations AdamW 3e-3, batch 8).
_base_ = ['./deeplabv3plus_r18-tiny_source-only_toy-128x64.py']
model = dict(
    _delete_=True,
    type='AdversarialWarmup',
    segmentor=_base_.model,
    discriminator=dict(
        type='OutputSpaceDiscriminator', base_channels=32, num_convs=4),
    adversarial_weight=0.01)
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
    segmentor=dict(type='OptimWrapper', optimizer=_base_.optimizer),
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))
param_scheduler = dict(
    _delete_=True,
    segmentor=[
        dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
             end=_base_.max_iters, by_epoch=False)
    ],
    discriminator=[
        dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0,
             end=_base_.max_iters, by_epoch=False)
    ])
# AdversarialWarmup has its own train_step: wrap each child in DDP separately.
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)
