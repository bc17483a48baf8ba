# Distillation round KD-2, GTA5 -> Cityscapes: KD-1 again, with the
# KD-1 model as the frozen teacher and a fresh SimCLR-initialised student
# (Table 1: CPSL+distill 60.8 mIoU after KD-2).
#   bash tools/dist_train.sh THIS_CONFIG 4
# Hand-off: teacher_checkpoint = the last KD-1 checkpoint (its student.* tensors),
# checked exactly as in KD-1.
_base_ = ['./kd1_deeplabv2_r101_4xb1-40k_gta5-to-cityscapes-896x512.py']
teacher_checkpoint = ('work_dirs/kd1_deeplabv2_r101_4xb1-40k_gta5-to-cityscapes-'
                      '896x512/iter_40000.pth')
model = dict(teacher_checkpoint=teacher_checkpoint)
