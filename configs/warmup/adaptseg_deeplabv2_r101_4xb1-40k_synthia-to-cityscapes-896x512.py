# Warm-up, the paper's way (Sec. 4.1 "warmed up by applying adversarial training like
# [39]"): AdaptSegNet-style output-space adversarial training of DeepLab v2 ResNet-101
# (ImageNet init) from SYNTHIA to Cityscapes (16 classes). A fully convolutional
# discriminator on the softmax outputs, least-squares GAN loss, adversarial weight 0.01,
# Adam 1e-4 for D (reference code).
#   bash tools/dist_train.sh THIS_CONFIG 4   (model_wrapper_cfg: _base_/uda/adaptseg.py)
# Hand-off to CPSL: the checkpoint holds student.* (the segmentor) and
# discriminator.*; extract the segmentor as the plain file CPSL's
# model.warmup_checkpoint names:
#   python tools/extract_submodel.py work_dirs/<this config>/iter_40000.pth \
#       work_dirs/<this config>/segmentor_iter_40000.pth --prefix student.
_base_ = [
    '../_base_/models/deeplabv2_r101-d8.py',
    '../_base_/datasets/synthia_to_cityscapes_896x512.py',
    '../_base_/uda/adaptseg.py', '../_base_/default_runtime.py',
    '../_base_/schedules/warmup_40k.py'
]
data_preprocessor = dict(size=_base_.crop_size)
segmentor = _base_.model
segmentor['decode_head'] = dict(
    segmentor['decode_head'], num_classes=_base_.num_classes)
model = dict(_delete_=True, **_base_.adaptseg, segmentor=segmentor)
# Paired batches; the target stream needs no P_ST and no strong view.
train_dataloader = dict(
    dataset=dict(target=dict(pipeline=_base_.plain_target_pipeline)))
# Two optimisers: the segmentor (`student`) as in the source-only warm-up, D with
# Adam 1e-4 (betas 0.9, 0.99 as AdaptSegNet), both with poly decay.
optim_wrapper = dict(
    _delete_=True,
    constructor='SubmoduleOptimWrapperConstructor',
    student=dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4),
        paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)})),
    discriminator=_base_.discriminator_optim_wrapper)
param_scheduler = dict(
    _delete_=True,
    student=[
        dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=40000,
             by_epoch=False)
    ],
    discriminator=[
        dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=40000,
             by_epoch=False)
    ])
