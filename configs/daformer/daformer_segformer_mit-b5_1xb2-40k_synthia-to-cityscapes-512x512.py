# DAFormer's self-training recipe on SYNTHIA -> Cityscapes (16 classes, mIoU16 /
# mIoU13): ./daformer_segformer_mit-b5_1xb2-40k_gta5-to-cityscapes-512x512.py with
# SYNTHIA at 1280x760, a 16-class head and the thing classes of the feature distance in
# SYNTHIA's ids (traffic light, sign, person, rider, car, bus, motorcycle, bicycle:
# DAFormer's Cityscapes thing classes without truck and train). DAFormer trains a
# 19-class head here and reports 60.9 mIoU16 (its 16 classes of 19).
#   python tools/train.py THIS_CONFIG
_base_ = [
    '../_base_/models/segformer_mit-b5.py',
    '../_base_/datasets/synthia_to_cityscapes_512x512.py',
    '../_base_/uda/mean_teacher.py', '../_base_/uda/daformer.py',
    '../_base_/default_runtime.py', '../_base_/schedules/daformer_40k.py'
]
synthia_thing_classes = [6, 7, 10, 11, 12, 13, 14, 15]
data_preprocessor = dict(size=_base_.crop_size)
segmentor = dict(
    _base_.model,
    data_preprocessor=dict(_base_.model.data_preprocessor, size=_base_.crop_size),
    decode_head=dict(_base_.model.decode_head, num_classes=_base_.num_classes),
    test_cfg=dict(mode='whole'))
model = dict(_delete_=True, **dict(_base_.mean_teacher, **_base_.daformer))
model.update(
    segmentor=segmentor,
    loss_consistency=dict(type='ConsistencyLoss', symmetric=True, loss_weight=0.0),
    feature_distance=dict(_base_.daformer.feature_distance,
                          classes=synthia_thing_classes))
train_dataloader = dict(dataset=dict(
    target=dict(pipeline=_base_.self_training_target_pipeline),
    rare_class_sampling=_base_.daformer_rare_class_sampling))
optim_wrapper = dict(paramwise_cfg=_base_.daformer_paramwise_cfg)
custom_hooks = _base_.mean_teacher_hooks
