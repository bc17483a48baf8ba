# Schedule of the CPU-sized adaptation stages (self-training and CPSL; the lab's toy
# recipe and configs/your_data/): 300 iterations of AdamW at a tenth of the warm-up's
# rate (the paper's SGD 1e-4 suits a pretrained ResNet-101 at 896x512 over 90k
# iterations, not a toy network in 300), poly decay.
_base_ = ['./cpu_warmup_600it.py']
optimizer = dict(type='AdamW', lr=3e-4, weight_decay=1e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)
max_iters = 300
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
# Validation every 50 iterations: training_curves.png shows target mIoU over the run
# (the paper's Fig. 7). Validation leaves the random state as it was
# (CrashSafeCheckpointHook), so it does not change training.
train_cfg = dict(max_iters=max_iters, val_interval=50)
default_hooks = dict(checkpoint=dict(interval=max_iters))
