# A deliberately tiny OCRNet (CascadeEncoderDecoder: an FCN head, then the OCR head
# that refines its output) on the narrow ResNet-18 of fcn_r18-tiny.py: for CPU smoke
# tests of a segmentor whose decode_head is a list, not for accuracy.
_base_ = ['./fcn_r18-tiny.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='CascadeEncoderDecoder',
    num_stages=2,
    decode_head=[
        dict(
            type='FCNHead',
            in_channels=32,
            in_index=2,
            channels=32,
            num_convs=1,
            concat_input=False,
            dropout_ratio=0.1,
            num_classes=3,
            norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
        dict(
            type='OCRHead',
            in_channels=64,
            in_index=3,
            channels=32,
            ocr_channels=16,
            dropout_ratio=0.1,
            num_classes=3,
            norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
    ])
