# CPSL on the DAFormer spine, SYNTHIA -> Cityscapes (16 classes): as
# ./cpsl-daformer_segformer_mit-b5_1xb2-40k_gta5-to-cityscapes-512x512.py, starting
# from the SYNTHIA SegFormer warm-up
# (configs/source_only/segformer_mit-b5_4xb1-40k_synthia-896x512.py) with the 16-class
# P_ST of the DeepLab v2 SYNTHIA warm-up; feature distance on SYNTHIA's thing classes.
#   python tools/train.py THIS_CONFIG
_base_ = [
    '../_base_/models/segformer_mit-b5.py',
    '../_base_/datasets/synthia_to_cityscapes_512x512.py', '../_base_/uda/cpsl.py',
    '../_base_/uda/daformer.py', '../_base_/default_runtime.py',
    '../_base_/schedules/daformer_40k.py'
]
warmup_checkpoint = ('work_dirs/segformer_mit-b5_4xb1-40k_synthia-896x512/'
                     'iter_40000.pth')
synthia_thing_classes = [6, 7, 10, 11, 12, 13, 14, 15]
data_preprocessor = dict(size=_base_.crop_size)
segmentor = dict(
    _base_.model,
    data_preprocessor=dict(_base_.model.data_preprocessor, size=_base_.crop_size),
    backbone=dict(_base_.model.backbone, init_cfg=None),
    decode_head=dict(_base_.model.decode_head, num_classes=_base_.num_classes),
    test_cfg=dict(mode='whole'))
model = dict(_delete_=True, **dict(_base_.cpsl, **_base_.daformer))
model.update(
    segmentor=segmentor,
    warmup_checkpoint=warmup_checkpoint,
    target_loss_view='weak',
    feature_distance=dict(
        _base_.daformer.feature_distance, classes=synthia_thing_classes,
        init_cfg=dict(type='Pretrained', checkpoint=_base_.mit_b5_checkpoint)))
train_dataloader = dict(
    dataset=dict(rare_class_sampling=_base_.daformer_rare_class_sampling))
optim_wrapper = dict(paramwise_cfg=_base_.daformer_cpsl_paramwise_cfg)
custom_hooks = _base_.cpsl_hooks
