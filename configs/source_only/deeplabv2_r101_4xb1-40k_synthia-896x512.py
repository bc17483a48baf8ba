# Warm-up, source only: DeepLab v2 ResNet-101 (ImageNet init) on SYNTHIA (16 classes),
# evaluated on Cityscapes val over the same 16 classes (mIoU16 / mIoU13). The paper's
# warm-up is adversarial (configs/warmup/adaptseg_..._synthia-to-cityscapes-896x512.py).
#   bash tools/dist_train.sh THIS_CONFIG 4
_base_ = [
    '../_base_/models/deeplabv2_r101-d8.py',
    '../_base_/datasets/synthia_to_cityscapes_896x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/warmup_40k.py'
]
data_preprocessor = dict(size=_base_.crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=_base_.num_classes))
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.source_dataset))
