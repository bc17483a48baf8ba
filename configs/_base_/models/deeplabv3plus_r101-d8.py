# DeepLab v3+ on a dilated ResNet-101-V1c (output stride 8), mmseg's standard model
# (DepthwiseSeparableASPPHead), without the auxiliary FCN head. ImageNet weights are
# open-mmlab's ResNet-101-V1c ('open-mmlab://resnet101_v1c').
# Norm: with one crop per GPU, batch statistics are unusable: the backbone keeps plain
# BN with frozen statistics (norm_eval=True; SyncBN fails on CPU/gloo), and the head
# uses GroupNorm (16 groups divide both 512 and 48 channels). With BN the head's ASPP
# image-pooling branch (a 1x1 map) cannot even train on a batch of one.
norm_cfg = dict(type='BN', requires_grad=True)
head_norm_cfg = dict(type='GN', num_groups=16, requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=True,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')),
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=head_norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
