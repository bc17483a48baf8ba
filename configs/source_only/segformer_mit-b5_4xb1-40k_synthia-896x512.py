# Warm-up, source only, for CPSL on SegFormer MiT-B5 (mmseg model, ImageNet init):
# SYNTHIA (16 classes), evaluated on Cityscapes val over the same 16 classes. Its
# iter_40000.pth is the warmup_checkpoint of configs/daformer/cpsl-daformer_segformer_
# mit-b5_1xb2-40k_synthia-to-cityscapes-512x512.py (and of CPSL on MIC). Optimisation
# as the GTA5 one (./segformer_mit-b5_4xb1-40k_gta5-896x512.py).
#   bash tools/dist_train.sh THIS_CONFIG 4
_base_ = [
    '../_base_/models/segformer_mit-b5.py',
    '../_base_/datasets/synthia_to_cityscapes_896x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/warmup_40k.py'
]
data_preprocessor = dict(size=_base_.crop_size)
model = dict(data_preprocessor=data_preprocessor,
             decode_head=dict(num_classes=_base_.num_classes))
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.source_dataset))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'pos_block': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
            'decode_head': dict(lr_mult=10.0)
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=40000,
         by_epoch=False)
]
