# SYNTHIA-RAND-CITYSCAPES (labelled source, 16 classes) -> Cityscapes (unlabelled
# target; evaluated on val over the same 16 classes, mIoU16 and mIoU13), 896x512 crops,
# one image per GPU (paper: batch 4 on 4 GPUs).
#   data/synthia:    as written by tools/convert_datasets/synthia.py (RGB/,
#                    GT/LABELS/*_labelTrainIds.png, train.txt)
#   data/cityscapes: leftImg8bit/, gtFine/ with *_gtFine_labelTrainIds.png; read
#                    through Cityscapes16Dataset, which maps Cityscapes' 19 train ids
#                    to SYNTHIA's 16 (terrain, truck, train -> 255)
#   pseudo_label_dir: 16-class P_ST of every Cityscapes train image
#                    (tools/generate_pseudo_labels.py with the SYNTHIA warm-up model)
# SYNTHIA frames stay at their native 1280x760 scale with random rescaling in
# (0.75, 1.5) (our choice: the crop fits from 0.75 up); Cityscapes as for GTA5.
synthia_root = 'data/synthia'
cityscapes_root = 'data/cityscapes'
pseudo_label_dir = 'work_dirs/pseudo_labels/synthia-to-cityscapes_deeplabv2_r101'
num_classes = 16
crop_size = (512, 896)  # (h, w)
source_scale = (1280, 760)  # (w, h)
source_ratio_range = (0.75, 1.5)
scale = (2048, 1024)  # (w, h)
ratio_range = (0.5, 1.5)
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=source_scale,
         ratio_range=source_ratio_range, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
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
        type='Cityscapes16Dataset',
        data_root=cityscapes_root,
        data_prefix=dict(
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# mIoU (= mIoU16 here), mIoU16, mIoU13 (without wall, fence, pole), MPA, per class.
val_evaluator = dict(
    type='SubsetIoUMetric', class_subsets='synthia', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
