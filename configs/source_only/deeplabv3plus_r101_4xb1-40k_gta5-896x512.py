# Warm-up, source only, for CPSL on DeepLab v3+ ResNet-101 (mmseg model, ImageNet init):
# GTA5, evaluated on Cityscapes val. Its iter_40000.pth is the warmup_checkpoint of
# configs/cpsl/cpsl_deeplabv3plus_r101_4xb1-90k_gta5-to-cityscapes-896x512.py.
#   bash tools/dist_train.sh THIS_CONFIG 4
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8.py',
    '../_base_/datasets/gta5_to_cityscapes_896x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/warmup_40k.py'
]
data_preprocessor = dict(size=_base_.crop_size)
model = dict(data_preprocessor=data_preprocessor)
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.source_dataset))
