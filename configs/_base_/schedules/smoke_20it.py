# A few iterations: enough to prove the tools, nothing more.
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=20, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20, val_interval=20)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# CrashSafeCheckpointHook: mmengine's CheckpointHook whose checkpoints survive a kill
# and resume exactly; PreflightCheckHook: model, data and a resumed checkpoint must
# fit before the first iteration (cpsl_mmseg/engine/hooks/).
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=5, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CrashSafeCheckpointHook', by_epoch=False, interval=10),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    preflight=dict(type='PreflightCheckHook'),
    visualization=dict(type='SegVisualizationHook'))
