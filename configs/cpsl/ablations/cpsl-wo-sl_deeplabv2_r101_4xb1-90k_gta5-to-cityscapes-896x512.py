# Table 3 ablation "w/o SL" (paper: 47.8 mIoU; full CPSL 55.7): the full GTA5 ->
# Cityscapes CPSL config with exactly one switch changed. No self-labeling head, memory
# bank or L_SL; the rectified label is argmax P_ST.
#   bash tools/dist_train.sh THIS_CONFIG 4
_base_ = ['../cpsl_deeplabv2_r101_4xb1-90k_gta5-to-cityscapes-896x512.py']
model = dict(use_self_labeling=False)
