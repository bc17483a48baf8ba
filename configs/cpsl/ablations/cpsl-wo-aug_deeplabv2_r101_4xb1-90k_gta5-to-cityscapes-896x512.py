# Table 3 ablation "w/o Aug" (paper: 54.2 mIoU; full CPSL 55.7): the full GTA5 ->
# Cityscapes CPSL config with exactly one switch changed. The student sees the weak view
# (no strong augmentation, no CutMix).
#   bash tools/dist_train.sh THIS_CONFIG 4
_base_ = ['../cpsl_deeplabv2_r101_4xb1-90k_gta5-to-cityscapes-896x512.py']
model = dict(use_strong_augmentation=False)
