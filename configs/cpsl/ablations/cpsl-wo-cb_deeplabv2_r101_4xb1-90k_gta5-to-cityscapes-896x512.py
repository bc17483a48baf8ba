# Table 3 ablation "w/o CB" (paper: 51.8 mIoU; full CPSL 55.7): the full GTA5 ->
# Cityscapes CPSL config with exactly one switch changed. Neither class-balanced
# sampling (Eq. 8-9: uniform pixel sampling instead) nor the class prior (equal
# partition in Sinkhorn).
#   bash tools/dist_train.sh THIS_CONFIG 4
_base_ = ['../cpsl_deeplabv2_r101_4xb1-90k_gta5-to-cityscapes-896x512.py']
model = dict(sampling='uniform', class_prior=dict(mode='uniform'))
