# CPSL on the DAFormer spine: ./daformer_segformer_mit-b5_1xb2-40k_gta5-to-cityscapes-
# 512x512.py with the pseudo-label step replaced by CPSL's (Eq. 1 with the paper's
# self-labeling settings: lambda1 0.1, tau 0.08, bank of 128 images x 512 pixels, class
# prior decay 0.99) and its weak/strong consistency (lambda2 5, on the strong view
# through a forward of its own: model.target_loss_view='weak' keeps DAFormer's
# ClassMix of the weak view for L_tgt). Quality weights and MIC use the rectified
# labels and their confidence (the normalised max of P_SL * P_ST).
# Inputs, as the other CPSL configs name them: warmup_checkpoint = the SegFormer
# source-only warm-up (configs/source_only/segformer_mit-b5_4xb1-40k_gta5-896x512.py),
# P_ST = the DeepLab v2 warm-up's maps (pseudo_label_dir of the dataset config),
# prototypes and prior from one pass over the target images (OnlineClusteringHook).
# The student starts from the warm-up; the feature distance's frozen backbone from the
# ImageNet MiT-B5 weights.
#   python tools/train.py THIS_CONFIG
_base_ = [
    '../_base_/models/segformer_mit-b5.py',
    '../_base_/datasets/gta5_to_cityscapes_512x512.py', '../_base_/uda/cpsl.py',
    '../_base_/uda/daformer.py', '../_base_/default_runtime.py',
    '../_base_/schedules/daformer_40k.py'
]
warmup_checkpoint = ('work_dirs/segformer_mit-b5_4xb1-40k_gta5-896x512/'
                     'iter_40000.pth')
data_preprocessor = dict(size=_base_.crop_size)
segmentor = dict(
    _base_.model,
    data_preprocessor=dict(_base_.model.data_preprocessor, size=_base_.crop_size),
    backbone=dict(_base_.model.backbone, init_cfg=None),
    test_cfg=dict(mode='whole'))
model = dict(_delete_=True, **dict(_base_.cpsl, **_base_.daformer))
model.update(
    segmentor=segmentor,
    warmup_checkpoint=warmup_checkpoint,
    target_loss_view='weak',
    feature_distance=dict(
        _base_.daformer.feature_distance,
        init_cfg=dict(type='Pretrained', checkpoint=_base_.mit_b5_checkpoint)))
train_dataloader = dict(
    dataset=dict(rare_class_sampling=_base_.daformer_rare_class_sampling))
optim_wrapper = dict(paramwise_cfg=_base_.daformer_cpsl_paramwise_cfg)
custom_hooks = _base_.cpsl_hooks
