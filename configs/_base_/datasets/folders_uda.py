# Your own data as folders (FolderSegDataset; docs/your_data.md): a labelled source
# folder, an unlabelled target folder and a labelled target validation folder. The
# paths and classes below are the example of docs/your_data.md; your config sets its
# own (the datasets' data_root / data_prefix / suffixes / metainfo and the head's
# num_classes, from one list of classes). Transforms of the CPU example: images
# resized to 128x64 (w x h; x1.0-1.5 for training), crops of 64x128, as the lab's
# toy recipe whose settings it carries over.
classes = [('road', [128, 64, 128]), ('car', [0, 0, 142]), ('sky', [70, 130, 180])]
metainfo = dict(classes=[c[0] for c in classes], palette=[c[1] for c in classes])
crop_size = (64, 128)  # (h, w)
scale = (128, 64)  # (w, h) before the random rescale
ratio_range = (1.0, 1.5)
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=scale, ratio_range=ratio_range, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
# Geometric augmentation of every target pipeline (P_ST follows it exactly).
target_geometry = [
    dict(type='RandomResize', scale=scale, ratio_range=ratio_range, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
]
# CPSL: stored P_ST (its directory is set by the pipeline's pseudo_labels stage),
# weak and strong views.
target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSoftPseudoLabel', pseudo_label_dir='work_dirs/your_data/pseudo_labels'),
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
# Evaluation at the training scale (predictions are resized back to the label's size).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
source_train = dict(  # labelled source: renders/img/NAME.jpg + renders/gt/NAME_label.png
    type='FolderSegDataset',
    data_root='data/renders',
    data_prefix=dict(img_path='img', seg_map_path='gt'),
    img_suffix='.jpg',
    seg_map_suffix='_label.png',
    metainfo=metainfo,
    pipeline=source_pipeline)
target_train = dict(  # unlabelled target: dashcam/NAME.jpg
    type='FolderSegDataset',
    data_root='data/dashcam',
    data_prefix=dict(img_path=''),
    img_suffix='.jpg',
    metainfo=metainfo,
    pipeline=target_pipeline)
target_val = dict(  # labelled target: dashcam_val/img/NAME.jpg + dashcam_val/label/NAME.png
    type='FolderSegDataset',
    data_root='data/dashcam_val',
    data_prefix=dict(img_path='img', seg_map_path='label'),
    img_suffix='.jpg',
    seg_map_suffix='.png',
    metainfo=metainfo,
    pipeline=test_pipeline)
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='UDADataset', source=source_train, target=target_train))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=target_val)
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
