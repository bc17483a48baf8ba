# DAFormer's data recipe for SYNTHIA (labelled source, 16 classes) -> Cityscapes
# (unlabelled target; evaluated on val over the same 16 classes, mIoU16 and mIoU13):
# SYNTHIA frames resized to fit 1280x760, Cityscapes to 1024x512, random 512x512 crops
# (a source crop may hold at most 75 % of one class), random flips, batch 2 on one
# GPU; evaluation on whole 1024x512 images. Folders and P_ST as in
# ./synthia_to_cityscapes_896x512.py (Cityscapes16Dataset maps the 19 train ids to 16).
synthia_root = 'data/synthia'
cityscapes_root = 'data/cityscapes'
pseudo_label_dir = 'work_dirs/pseudo_labels/synthia-to-cityscapes_deeplabv2_r101'
num_classes = 16
crop_size = (512, 512)  # (h, w)
source_scale = (1280, 760)  # (w, h)
scale = (1024, 512)  # (w, h)
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=source_scale, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
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
    type='SynthiaDataset',
    data_root=synthia_root,
    data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
    ann_file='train.txt',
    pipeline=source_pipeline)
target_dataset = dict(
    type='Cityscapes16Dataset',
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
        type='Cityscapes16Dataset',
        data_root=cityscapes_root,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='SubsetIoUMetric', class_subsets='synthia', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
