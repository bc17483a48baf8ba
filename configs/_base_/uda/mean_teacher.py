# Mean-teacher self-training (MeanTeacherSelfTraining), the baseline CPSL is measured
# against and the base CPSL builds on (configs/_base_/uda/cpsl.py): EMA teacher with the
# paper's decay 0.999 (mmengine momentum 0.001), weak/strong views, CutMix p = 0.5,
# cross-entropy on the teacher's argmax, weak/strong consistency at lambda2 = 5.
# A config using this file sets `model.segmentor` to any mmseg segmentor:
#   model = dict(_delete_=True, **_base_.mean_teacher, segmentor=...)
#   custom_hooks = _base_.mean_teacher_hooks
mean_teacher = dict(
    type='MeanTeacherSelfTraining',
    loss_target=dict(type='RectifiedPseudoLabelLoss', ce_weight=1.0,
                     rce_weight=0.0),
    loss_consistency=dict(type='ConsistencyLoss', symmetric=True,
                          loss_weight=5.0),
    teacher_momentum=0.001,
    teacher_train_mode=False,
    pseudo_label_source='teacher',
    confidence_threshold=0.0,
    cutmix_prob=0.5,
    use_strong_augmentation=True,
    predict_with='student')
# The EMA update of the teacher after every iteration.
mean_teacher_hooks = [dict(type='MeanTeacherHook')]
