# DeepLab v2 on a dilated ResNet-101 (output stride 8): the paper's network (Sec. 4.1).
# Backbone: mmseg `ResNet` depth 101 in the torchvision layout (style='pytorch': stride
# in the 3x3 conv), layer3/layer4 dilated 2/4 in every block (contract_dilation=False),
# ImageNet weights of torchvision (IMAGENET1K_V1, the file behind
# 'torchvision://resnet101', named by URL so that torchvision need not be installed).
# For the authors' Caffe-ported DeepLab v2 / ProDA weights use style='caffe' and
# tools/convert_weights.py.
# Norm: plain BN, not SyncBN (one crop per GPU; SyncBN also fails on CPU/gloo). As in
# the DeepLab v2 lineage, BN affine parameters are frozen; we also freeze its running
# statistics (norm_eval=True), since batch statistics of a single crop are noise.
# Head: DeepLabV2SEHead (ASPP branches 6/12/18/24 + SE + 3x3 bottleneck, GroupNorm):
# the reference code's variant whose 256-d pre-classifier feature is the paper's Z.
norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
torchvision_resnet101 = 'https://download.pytorch.org/models/resnet101-63fe2227.pth'
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNet',
        depth=101,
        num_stages=4,
        out_indices=(3, ),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=True,
        style='pytorch',
        contract_dilation=False,
        init_cfg=dict(type='Pretrained', checkpoint=torchvision_resnet101)),
    decode_head=dict(
        type='DeepLabV2SEHead',
        in_channels=2048,
        in_index=0,
        channels=256,
        dilations=(6, 12, 18, 24),
        se_ratio=16,
        dropout_ratio=0.1,
        num_classes=19,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
