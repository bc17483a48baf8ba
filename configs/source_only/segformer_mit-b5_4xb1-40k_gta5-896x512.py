# Warm-up, source only, for CPSL on SegFormer MiT-B5 (mmseg model, ImageNet init): GTA5,
# evaluated on Cityscapes val. Its iter_40000.pth is the warmup_checkpoint of
# configs/cpsl/cpsl_segformer_mit-b5_4xb1-90k_gta5-to-cityscapes-896x512.py.
# Transformer optimisation as in mmseg's SegFormer / DAFormer: AdamW 6e-5, head 10x,
# no weight decay on norms and position blocks, linear warm-up of 1.5k iterations.
#   bash tools/dist_train.sh THIS_CONFIG 4
_base_ = [
    '../_base_/models/segformer_mit-b5.py',
    '../_base_/datasets/gta5_to_cityscapes_896x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/warmup_40k.py'
]
data_preprocessor = dict(size=_base_.crop_size)
model = dict(data_preprocessor=data_preprocessor)
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
