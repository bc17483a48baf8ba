# SegFormer MiT-B5 with mmseg's all-MLP SegformerHead (256 channels), the backbone of
# DAFormer/HRDA/MIC. ImageNet-1k weights of MiT-B5 from open-mmlab. LayerNorm in the
# backbone; the head's BN is plain BN (SyncBN fails on CPU/gloo).
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
mit_b5_checkpoint = ('https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/'
                     'segformer/mit_b5_20220624-658746d9.pth')
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='MixVisionTransformer',
        in_channels=3,
        embed_dims=64,
        num_stages=4,
        num_layers=[3, 6, 40, 3],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=mit_b5_checkpoint)),
    decode_head=dict(
        type='SegformerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    # mmseg's Cityscapes setting for SegFormer: sliding 1024x1024 windows.
    test_cfg=dict(mode='slide', crop_size=(1024, 1024), stride=(768, 768)))
