# Distillation round KD-2, SYNTHIA -> Cityscapes, 16 classes: KD-1 again, with the
# KD-1 model as the frozen teacher and a fresh SimCLR-initialised student (Table 2:
# CPSL+distill 57.9 mIoU16 / 65.3 mIoU13 after KD-2).
#   bash tools/dist_train.sh THIS_CONFIG 4
# Hand-off: teacher_checkpoint = the last KD-1 checkpoint (its student.* tensors),
# checked exactly as in KD-1.
_base_ = ['./kd1_deeplabv2_r101_4xb1-40k_synthia-to-cityscapes-896x512.py']
teacher_checkpoint = ('work_dirs/kd1_deeplabv2_r101_4xb1-40k_synthia-to-cityscapes-'
                      '896x512/iter_40000.pth')
model = dict(teacher_checkpoint=teacher_checkpoint)
