# Warm-up, source only: DeepLab v2 ResNet-101 (ImageNet init) on GTA5, evaluated on
# Cityscapes val. The paper's warm-up is adversarial
# (configs/warmup/adaptseg_deeplabv2_r101_4xb1-40k_gta5-to-cityscapes-896x512.py);
# this is the simpler alternative. Its checkpoints are plain EncoderDecoder files: point
# CPSL's model.warmup_checkpoint at work_dirs/<this config>/iter_40000.pth directly.
#   bash tools/dist_train.sh THIS_CONFIG 4
_base_ = [
    '../_base_/models/deeplabv2_r101-d8.py',
    '../_base_/datasets/gta5_to_cityscapes_896x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/warmup_40k.py'
]
data_preprocessor = dict(size=_base_.crop_size)
model = dict(data_preprocessor=data_preprocessor)
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.source_dataset))
