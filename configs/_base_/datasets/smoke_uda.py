# Paired smoke data: labelled 'source' shapes and unlabelled 'target' shapes with a
# shifted appearance (projects/cpsl_lab/tools/make_smoke_data.py --domain target). P_ST maps live in
# pseudo_label_dir (tools/generate_pseudo_labels.py).
source_root = 'data/smoke_source'
target_root = 'data/smoke_target'
pseudo_label_dir = 'data/smoke_target/pseudo_labels'
num_classes = 3
metainfo = dict(
    classes=('background', 'square', 'disc'),
    palette=[[0, 0, 0], [220, 20, 60], [0, 0, 142]])
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSoftPseudoLabel', pseudo_label_dir=pseudo_label_dir,
         num_classes=num_classes),
    dict(type='RandomFlip', prob=0.5),
    dict(type='StrongPhotometricView'),
    dict(type='PackUDATargetInputs'),
]
# Mean-teacher self-training: the teacher labels the target itself, no stored P_ST.
self_training_target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='StrongPhotometricView'),
    dict(type='PackUDATargetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='UDADataset',
        source=dict(
            type='BaseSegDataset',
            data_root=source_root,
            metainfo=metainfo,
            img_suffix='.png',
            seg_map_suffix='.png',
            data_prefix=dict(
                img_path='images/train', seg_map_path='labels/train'),
            pipeline=source_pipeline),
        target=dict(
            type='BaseSegDataset',
            data_root=target_root,
            metainfo=metainfo,
            img_suffix='.png',
            seg_map_suffix='.png',
            data_prefix=dict(img_path='images/train'),
            pipeline=target_pipeline)))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='BaseSegDataset',
        data_root=target_root,
        metainfo=metainfo,
        img_suffix='.png',
        seg_map_suffix='.png',
        data_prefix=dict(img_path='images/val', seg_map_path='labels/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
