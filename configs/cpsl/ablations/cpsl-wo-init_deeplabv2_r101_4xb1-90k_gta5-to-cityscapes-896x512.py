# Table 3 ablation "w/o Init" (paper: 49.9 mIoU; full CPSL 55.7): the full GTA5 ->
# Cityscapes CPSL config with exactly one switch changed. The self-labeling head starts
# from random prototypes instead of the Eq. 7 class means.
#   bash tools/dist_train.sh THIS_CONFIG 4
_base_ = ['../cpsl_deeplabv2_r101_4xb1-90k_gta5-to-cityscapes-896x512.py']
model = dict(init_head_from_prototypes=False)
