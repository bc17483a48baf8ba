# DAFormer's data recipe for GTA5 (labelled source) -> Cityscapes (unlabelled target;
# evaluated on val): GTA5 frames resized to fit 1280x720, Cityscapes to 1024x512 (both
# keeping their aspect), random 512x512 crops (a source crop may hold at most 75 % of
# one class), random flips, batch 2 on one GPU; evaluation on whole 1024x512 images.
# Folders and P_ST as in ./gta5_to_cityscapes_896x512.py; the source's
# class_stats.json (tools/convert_datasets/gta5.py) feeds rare class sampling.
gta5_root = 'data/gta5'
cityscapes_root = 'data/cityscapes'
pseudo_label_dir = 'work_dirs/pseudo_labels/gta5-to-cityscapes_deeplabv2_r101'
num_classes = 19
crop_size = (512, 512)  # (h, w)
source_scale = (1280, 720)  # (w, h)
scale = (1024, 512)  # (w, h)
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=source_scale, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# CPSL's target stream: P_ST aligned through every transform, weak and strong views.
target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSoftPseudoLabel', pseudo_label_dir=pseudo_label_dir,
         num_classes=num_classes),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='StrongPhotometricView'),
    dict(type='PackUDATargetInputs'),
]
# DAFormer's own target stream: the crop alone (its photometric augmentation is the
# jitter / blur of the mixed image, model.mix_augmentation).
self_training_target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackUDATargetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
source_dataset = dict(
    type='GTA5Dataset',
    data_root=gta5_root,
    data_prefix=dict(img_path='images', seg_map_path='labels'),
    ann_file='train.txt',
    pipeline=source_pipeline)
target_dataset = dict(
    type='CityscapesDataset',
    data_root=cityscapes_root,
    data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=target_pipeline)
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='UDADataset', source=source_dataset, target=target_dataset))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CityscapesDataset',
        data_root=cityscapes_root,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SubsetIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
