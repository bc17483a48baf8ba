# CPSL stage 1 on another mmseg architecture, by config only: DeepLab v3+ ResNet-101
# (DepthwiseSeparableASPPHead; Z = its 512-d pre-classifier feature), GTA5 ->
# Cityscapes, with the paper's CPSL hyperparameters and schedule unchanged (not tuned
# for this network; no reported number to compare with).
#   bash tools/dist_train.sh THIS_CONFIG 4
# Inputs: warmup_checkpoint = this network's source-only warm-up
# (configs/source_only/deeplabv3plus_r101_4xb1-40k_gta5-896x512.py); P_ST = the maps of
# the DeepLab v2 warm-up (pseudo_label_dir of the GTA5 dataset config: stored maps do not
# depend on the network that trains on them).
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8.py',
    '../_base_/datasets/gta5_to_cityscapes_896x512.py', '../_base_/uda/cpsl.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cpsl_90k.py'
]
warmup_checkpoint = ('work_dirs/deeplabv3plus_r101_4xb1-40k_gta5-896x512/'
                     'iter_40000.pth')
data_preprocessor = dict(size=_base_.crop_size)
segmentor = _base_.model
segmentor['backbone'] = dict(segmentor['backbone'], init_cfg=None)
model = dict(_delete_=True, **_base_.cpsl)
model.update(segmentor=segmentor, warmup_checkpoint=warmup_checkpoint)
optim_wrapper = dict(paramwise_cfg=_base_.cpsl_paramwise_cfg)
custom_hooks = _base_.cpsl_hooks
