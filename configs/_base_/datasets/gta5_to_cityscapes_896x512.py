# GTA5 (labelled source) -> Cityscapes (unlabelled target; evaluated on val), 896x512
# crops, one image per GPU (paper: batch 4 on 4 GPUs).
#   data/gta5:       as written by tools/convert_datasets/gta5.py (images/, labels/
#                    *_labelTrainIds.png, train.txt = every cleanly converted image)
#   data/cityscapes: leftImg8bit/, gtFine/ with *_gtFine_labelTrainIds.png (mmseg's
#                    tools/dataset_converters/cityscapes.py)
#   pseudo_label_dir: P_ST of every Cityscapes train image, written from the warm-up
#                    model by tools/generate_pseudo_labels.py (Algorithm 1, line 1)
# Resizing: as the reference code, both domains at 2048x1024 (GTA5's 1914x1052 frames
# stretched to 2:1) with random rescaling; the range (0.5, 1.5) is our choice.
gta5_root = 'data/gta5'
cityscapes_root = 'data/cityscapes'
pseudo_label_dir = 'work_dirs/pseudo_labels/gta5-to-cityscapes_deeplabv2_r101'
num_classes = 19
crop_size = (512, 896)  # (h, w)
scale = (2048, 1024)  # (w, h)
ratio_range = (0.5, 1.5)
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=scale, ratio_range=ratio_range,
         keep_ratio=False),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# CPSL target stream: weak view + strong view + P_ST aligned through every transform.
target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSoftPseudoLabel', pseudo_label_dir=pseudo_label_dir,
         num_classes=num_classes),
    dict(type='RandomResize', scale=scale, ratio_range=ratio_range,
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='StrongPhotometricView'),
    dict(type='PackUDATargetInputs'),
]
# Target stream of the warm-up and distillation stages: images only.
plain_target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=scale, ratio_range=ratio_range,
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
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
plain_target_dataset = dict(target_dataset, pipeline=plain_target_pipeline)
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='UDADataset', source=source_dataset,
                 target=target_dataset))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CityscapesDataset',
        data_root=cityscapes_root,
        data_prefix=dict(
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# mIoU over the 19 classes, MPA (supplement Eq. 16) and per-class IoU/accuracy.
val_evaluator = dict(type='SubsetIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
