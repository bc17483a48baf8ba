# Output-space adversarial warm-up (the paper's Sec. 4.1 warm-up, AdaptSegNet style),
# shared by configs/warmup/adaptseg_* and projects/cpsl_lab/configs/toy/adaptseg_*. A child config
# builds its model as
#   model = dict(_delete_=True, **_base_.adaptseg, segmentor=<its segmentor>)
# and gives SubmoduleOptimWrapperConstructor its segmentor optimiser (key `student`,
# the module that holds the segmentor) next to
# `discriminator_optim_wrapper` below (param_scheduler: one list per submodule).
# A fully convolutional discriminator on the segmentor's softmax maps, least-squares
# GAN loss at weight 0.01 (reference code), Adam 1e-4 with AdaptSegNet's betas.
adaptseg = dict(
    type='AdversarialWarmup',
    discriminator=dict(
        type='OutputSpaceDiscriminator', base_channels=64, num_convs=4),
    adversarial_weight=0.01)
discriminator_optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99)))
# AdversarialWarmup has its own train_step (two optimisers), which mmengine's default
# DDP wrapper would bypass: wrap each child in DDP separately (tools/train.py sets
# device_ids=None for CPU processes on gloo, see cpsl_mmseg/utils/launch.py).
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)
