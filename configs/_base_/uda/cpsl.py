# CPSL defaults (paper Sec. 4.1): lambda1 = 0.1 (loss_self_labeling.loss_weight),
# lambda2 = 5 (loss_consistency.loss_weight), tau = 0.08, epsilon = 0.05, 3 Sinkhorn
# iterations, bank 65,536, M = 512, EMA decay 0.999 (mmengine momentum 0.001).
# A config using this file sets `model.segmentor` to any mmseg EncoderDecoder.
uda = dict(
    type='CPSL',
    self_labeling_head=dict(
        type='SelfLabelingHead', temperature=0.08, momentum=0.001),
    loss_target=dict(type='RectifiedPseudoLabelLoss', ce_weight=1.0,
                     rce_weight=0.0),
    loss_self_labeling=dict(type='SelfLabelingLoss', loss_weight=0.1),
    loss_consistency=dict(type='ConsistencyLoss', symmetric=True,
                          loss_weight=5.0),
    memory_bank_size=65536,
    samples_per_image=512,
    sampling='class_balanced',
    sinkhorn=dict(epsilon=0.05, num_iters=3),
    class_prior=dict(mode='moving_average', momentum=0.99),
    teacher_momentum=0.001,
    teacher_train_mode=False,
    pseudo_label_source='stored',
    confidence_threshold=0.0,
    cutmix_prob=0.5,
    use_self_labeling=True,
    use_self_training=True,
    init_head_from_prototypes=True,
    use_strong_augmentation=True,
    use_momentum=True,
    predict_with='student')
# Separate learning rates (paper: 1e-4 for the segmentation network, 5e-4 for the
# self-labeling head). Keys are matched as substrings of parameter names, so they
# name the student's modules precisely (the teacher is frozen anyway).
cpsl_paramwise_cfg = dict(
    custom_keys={
        'student.backbone': dict(lr_mult=1.0),
        'student.decode_head': dict(lr_mult=1.0),
        'self_labeling_head': dict(lr_mult=5.0, decay_mult=0.0),
    })
cpsl_hooks = [dict(type='OnlineClusteringHook')]
