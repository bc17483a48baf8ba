# CPU-sized schedule of the warm-up: AdamW + poly, iteration-based, 600 iterations
# (the lab's toy oracles stretch it to 1,200). AdamW instead of the paper's SGD: on
# the lab's toy domains the network trained from scratch trained markedly worse with
# SGD in the same 600 iterations (benchmarks/README.md, "Toy pipeline").
optimizer = dict(type='AdamW', lr=0.003, weight_decay=1e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
max_iters = 600
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
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
        type='CrashSafeCheckpointHook', by_epoch=False, interval=max_iters,
        max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    preflight=dict(type='PreflightCheckHook'),
    visualization=dict(type='SegVisualizationHook'))
