# Table 3 ablation "w/o ST" (paper: 39.4 mIoU; full CPSL 55.7): the full GTA5 ->
# Cityscapes CPSL config with exactly one switch changed. P_ST is not used: the
# rectified label is argmax P_SL (P_ST still initialises the prototypes).
#   bash tools/dist_train.sh THIS_CONFIG 4
_base_ = ['../cpsl_deeplabv2_r101_4xb1-90k_gta5-to-cityscapes-896x512.py']
model = dict(use_self_training=False)
