# Table 3 ablation "w/o Mom" (paper: 54.6 mIoU; full CPSL 55.7): the full GTA5 ->
# Cityscapes CPSL config with exactly one switch changed. No momentum networks: teacher
# and momentum head copy the student and the head after every step.
#   bash tools/dist_train.sh THIS_CONFIG 4
_base_ = ['../cpsl_deeplabv2_r101_4xb1-90k_gta5-to-cityscapes-896x512.py']
model = dict(use_momentum=False)
