# CPSL with every DAFormer / MIC ingredient on (ClassMix with colour jitter / blur,
# quality-weighted pseudo labels, the EMA ramp-up, the ImageNet feature distance, MIC,
# rare class sampling, a linear learning-rate warm-up): the smoke run showing they
# train together through the Runner, on CPU in seconds. The network is a small FCN on
# the first stages of EfficientNet-Lite0, whose ImageNet weights load offline (the
# feature distance needs pretrained weights); its ingredient values are smoke-sized.
_base_ = [
    './cpsl_fcn_r18-tiny_2xb2-20it_smoke-64x64.py',
    '../_base_/uda/daformer.py', '../_base_/schedules/linear_warmup.py'
]
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.0, 127.0, 127.0],
    std=[128.0, 128.0, 128.0],
    bgr_to_rgb=True,
    size=(64, 64),
    pad_val=0,
    seg_pad_val=255)
segmentor = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='EfficientNetLite0', pretrained=True, out_indices=(1, 2),
                  output_stride=8),
    decode_head=dict(
        type='FCNHead', in_channels=40, in_index=1, channels=16, num_convs=1,
        concat_input=False, dropout_ratio=0.1, num_classes=3,
        norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
model = dict(
    segmentor=dict(_delete_=True, **segmentor),
    **dict(
        _base_.daformer,
        teacher_momentum=0.01,
        pseudo_label_weighting=dict(threshold=0.968),  # no rows ignored at 64x64
        feature_distance=dict(loss_weight=0.005, classes=[1, 2], scale_min_ratio=0.75),
        masked_consistency=dict(_base_.mic.masked_consistency, block_size=8)))
train_dataloader = dict(dataset=dict(
    rare_class_sampling=dict(class_temp=0.01, min_pixels=20, min_crop_ratio=0.5)))
param_scheduler = [dict(_base_.linear_warmup, end=5), *_base_.param_scheduler]
