# The offline toy domains (projects/cpsl_lab/tools/prepare_toy_data.py): flat-shaded
# "source" street scenes -> photographic "target" scenes, 10 Cityscapes-like classes,
# 128x64 images.
# Target train labels are never loaded; target val labels are used for evaluation.
data_root = 'data/toy'
pseudo_label_dir = 'work_dirs/toy/pseudo_labels'
num_classes = 10
crop_size = (64, 128)  # (h, w)
scale = (128, 64)  # (w, h) before the random rescale
ratio_range = (1.0, 1.5)
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=scale, ratio_range=ratio_range,
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
# Geometric augmentation of every target pipeline (P_ST follows it exactly).
target_geometry = [
    dict(type='RandomResize', scale=scale, ratio_range=ratio_range,
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
]
# CPSL: stored P_ST, weak and strong views.
target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSoftPseudoLabel', pseudo_label_dir=pseudo_label_dir,
         num_classes=num_classes),
    *target_geometry,
    dict(type='StrongPhotometricView'),
    dict(type='PackUDATargetInputs'),
]
# Mean-teacher self-training: the teacher labels the crop itself, no stored P_ST.
self_training_target_pipeline = [
    dict(type='LoadImageFromFile'),
    *target_geometry,
    dict(type='StrongPhotometricView'),
    dict(type='PackUDATargetInputs'),
]
# Target images without pseudo labels or strong view (adversarial warm-up).
plain_target_pipeline = [
    dict(type='LoadImageFromFile'),
    *target_geometry,
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
source_train = dict(
    type='ToyUDADataset',
    data_root=data_root,
    data_prefix=dict(
        img_path='source/images/train', seg_map_path='source/labels/train'),
    pipeline=source_pipeline)
target_train = dict(
    type='ToyUDADataset',
    data_root=data_root,
    data_prefix=dict(img_path='target/images/train'),
    pipeline=target_pipeline)
target_val = dict(
    type='ToyUDADataset',
    data_root=data_root,
    data_prefix=dict(
        img_path='target/images/val', seg_map_path='target/labels/val'),
    pipeline=test_pipeline)
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='UDADataset', source=source_train, target=target_train))
val_dataloader = dict(
    batch_size=10,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=target_val)
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
