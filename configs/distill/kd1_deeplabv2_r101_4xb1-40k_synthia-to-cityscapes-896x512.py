# Distillation round KD-1, SYNTHIA -> Cityscapes, 16 classes (paper Sec. 4.2, following
# ProDA; Table 2: CPSL+distill 57.9 mIoU16 / 65.3 mIoU13 after KD-2). A student DeepLab
# v2 ResNet-101 whose backbone starts from self-supervised (SimCLR) weights learns on
# Cityscapes train images from the FROZEN stage-1 CPSL model: per-pixel KL(teacher ||
# student) plus cross-entropy on the teacher's hard labels where its confidence >= 0.95;
# lr 6e-4.
#   bash tools/dist_train.sh THIS_CONFIG 4
# Stage hand-off, checked when training starts: a missing file, or a file whose tensor
# names / shapes do not match the receiving network exactly, stops the run with an
# error naming model.teacher_checkpoint or model.student_checkpoint and the counts of
# loaded / missing / unexpected tensors (the run log records each file's SHA-256).
# * teacher_checkpoint: the last checkpoint of stage 1 (CPSL); its student.* tensors
#   teach (teacher_checkpoint_prefix; 'teacher.' would take CPSL's EMA model).
# * student_checkpoint: a SimCLR ResNet-101 in torchvision tensor names (conv1, bn1,
#   layer1-4; an fc.* classifier is ignored). Not distributed by the authors; convert
#   your SimCLR checkpoint to these names first. The student config names no other
#   pretrained weights (two initialisations are refused).
# Source cross-entropy is optional (model.source_weight > 0 with a UDADataset of the
# dataset config's source_dataset and plain_target_dataset); off here.
_base_ = [
    '../_base_/models/deeplabv2_r101-d8.py',
    '../_base_/datasets/synthia_to_cityscapes_896x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/distill_40k.py'
]
teacher_checkpoint = ('work_dirs/cpsl_deeplabv2_r101_4xb1-90k_synthia-to-cityscapes-'
                      '896x512/iter_90000.pth')
student_checkpoint = 'checkpoints/simclr_resnet101_torchvision.pth'
data_preprocessor = dict(size=_base_.crop_size)
student = _base_.model
student['backbone'] = dict(student['backbone'], init_cfg=None)
student['decode_head'] = dict(
    student['decode_head'], num_classes=_base_.num_classes)
model = dict(
    _delete_=True,
    type='CPSLDistill',
    student=student,
    student_checkpoint=student_checkpoint,
    student_checkpoint_prefix='',
    student_checkpoint_ignore=[r'^fc\.'],
    teacher_checkpoint=teacher_checkpoint,
    teacher_checkpoint_prefix='student.',
    confidence_threshold=0.95,
    kd_weight=1.0,
    pseudo_label_weight=1.0,
    source_weight=0.0)
# Target images only (no P_ST, no strong view): the teacher labels them online.
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.plain_target_dataset))
