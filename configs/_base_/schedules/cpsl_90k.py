# CPSL stage 1 optimisation (paper Sec. 4.1): SGD with momentum 0.9 and weight decay
# 2e-4, lr 1e-4 for the segmentation network (the self-labeling head gets 5x = 5e-4
# through cpsl_paramwise_cfg of configs/_base_/uda/cpsl.py), poly decay with power 0.9
# over 90k iterations (exactly 90k: the reference code's schedule ran on to ~95k).
optimizer = dict(type='SGD', lr=1e-4, momentum=0.9, weight_decay=2e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=90000,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=90000, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# Validation is on Cityscapes val, which is also the reported test split: the best
# checkpoint is kept (the paper's protocol), and so is the last one (report both).
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
