# Warm-up (source-only or adversarial) optimisation, AdaptSegNet's settings for the
# segmentation network: SGD lr 2.5e-4 (decode head 10x), momentum 0.9, weight decay
# 5e-4, poly 0.9. AdaptSegNet trains 250k iterations of one image (early stop ~120k);
# with 4 images per iteration we run 40k iterations (160k images). The length is our
# choice: neither the paper nor the reference code gives the warm-up recipe.
optimizer = dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=optimizer,
    clip_grad=None,
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=40000,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# CrashSafeCheckpointHook: mmengine's CheckpointHook whose checkpoints survive a kill
# and resume exactly; PreflightCheckHook: model, data and a resumed checkpoint must
# fit before the first iteration (cpsl_mmseg/engine/hooks/).
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CrashSafeCheckpointHook', by_epoch=False, interval=2000, max_keep_ckpts=3,
        save_last=True, save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    preflight=dict(type='PreflightCheckHook'),
    visualization=dict(type='SegVisualizationHook'))
