# CPSL defaults (paper Sec. 4.1) on top of the mean teacher (./mean_teacher.py): P_ST
# from stored maps, lambda1 = 0.1 (loss_self_labeling.loss_weight), lambda2 = 5
# (loss_consistency.loss_weight), tau = 0.08, epsilon = 0.05, 3 Sinkhorn iterations,
# a bank of 128 images x M = 512 samples (65,536 rows: the paper defines its bank in
# images, so a config that changes M keeps 128 images), EMA decay 0.999 (mmengine momentum 0.001) for the teacher and
# the momentum head, class prior decay (Eq. 11 alpha) 0.99.
# A config using this file sets `model.segmentor` to any mmseg segmentor:
#   model = dict(_delete_=True, **_base_.cpsl, segmentor=...)
#   custom_hooks = _base_.cpsl_hooks
_base_ = ['./mean_teacher.py']
cpsl = dict(
    _base_.mean_teacher,
    type='CPSL',
    pseudo_label_source='stored',
    self_labeling_head=dict(
        type='SelfLabelingHead', temperature=0.08, momentum=0.001),
    loss_self_labeling=dict(type='SelfLabelingLoss', loss_weight=0.1),
    memory_bank_images=128,
    samples_per_image=512,
    sampling='class_balanced',
    sinkhorn=dict(epsilon=0.05, num_iters=3),
    class_prior=dict(mode='moving_average', decay=0.99),
    use_self_labeling=True,
    use_self_training=True,
    init_head_from_prototypes=True,
    use_momentum=True)
# Separate learning rates (paper: 1e-4 for the segmentation network, 5e-4 for the
# self-labeling head). Keys are matched as substrings of parameter names, so they
# name the student's modules precisely (the teacher is frozen anyway).
cpsl_paramwise_cfg = dict(
    custom_keys={
        'student.backbone': dict(lr_mult=1.0),
        'student.decode_head': dict(lr_mult=1.0),
        'self_labeling_head': dict(lr_mult=5.0, decay_mult=0.0),
    })
# The EMA updates (teacher, momentum head) and the clustering statistics (Eq. 7, 10,
# 11), in this order after every iteration.
cpsl_hooks = _base_.mean_teacher_hooks + [dict(type='OnlineClusteringHook')]
