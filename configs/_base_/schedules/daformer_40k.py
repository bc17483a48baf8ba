# DAFormer / MIC optimisation: AdamW, lr 6e-5, betas (0.9, 0.999), weight decay 0.01;
# a linear warm-up over the first 1,500 iterations from 1e-6 of the rate, multiplied
# with a poly decay of power 1.0 to 0 at 40k iterations (mmcv's warm-up, see
# ./linear_warmup.py); one GPU, batch 2. The decode head's 10x and the zero decay of
# norms / position blocks: daformer_paramwise_cfg of ../uda/daformer.py.
_base_ = ['./linear_warmup.py']
optimizer = dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    _base_.linear_warmup,
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=0, end=40000, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
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
        type='CrashSafeCheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=3,
        save_last=True, save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    preflight=dict(type='PreflightCheckHook'),
    visualization=dict(type='SegVisualizationHook'))
