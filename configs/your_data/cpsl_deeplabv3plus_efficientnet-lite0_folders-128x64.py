# CPSL on your own data, and the whole recipe around it (docs/your_data.md): write a
# config that inherits this one and sets your folders, classes (and network), then
#   python tools/run_pipeline.py YOUR_CONFIG --work-dir work_dirs/your_data
# runs warm-up -> BN calibration -> P_ST -> prototypes -> self-training baseline ->
# CPSL -> export, each evaluated on your target val folder. CPU example: DeepLabV3+ on
# the ImageNet-pretrained EfficientNet-Lite0 (weights installed offline) at 128x64,
# with the lab's toy recipe settings (they differ from the paper's for a 300-iteration
# CPU schedule: ../_base_/uda/cpu_adaptation.py says how and why): M = 16 pixels per
# crop, a bank of the paper's 128 images (2,048 rows), the teacher's EMA decay 0.999
# (the pretrained family's, as the paper) and the momentum head's 0.99.
_base_ = [
    '../_base_/models/deeplabv3plus_efficientnet-lite0.py',
    '../_base_/datasets/folders_uda.py', '../_base_/uda/cpsl.py',
    '../_base_/uda/cpu_adaptation.py', '../_base_/default_runtime.py',
    '../_base_/schedules/cpu_adaptation_300it.py'
]
data_preprocessor = _base_.efficientnet_preprocessor
segmentor = dict(
    _base_.efficientnet_deeplabv3plus,
    decode_head=dict(_base_.efficientnet_deeplabv3plus['decode_head'],
                     num_classes=len(_base_.classes)))
model = dict(
    _base_.cpsl,
    segmentor=segmentor,
    memory_bank_images=128,
    samples_per_image=16,
    self_labeling_head=dict(_base_.cpsl.self_labeling_head, momentum=0.01),
    **_base_.pretrained_cpu_adaptation)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(
    _base_.cpsl_paramwise_cfg.custom_keys, **{'student.backbone': dict(lr_mult=0.1)})))
custom_hooks = _base_.cpsl_hooks
randomness = dict(seed=0)
# Every stage runs on the datasets and segmentor of the pipeline config (your config),
# each with its own transforms, method and schedule (docs/pipeline.md, "Shared data
# and network"); stage configs sit beside this file.
recipe = '{{ fileDirname }}/'
warmup = recipe + 'deeplabv3plus_efficientnet-lite0_source-only_folders-128x64.py'
uda_pipeline = dict(share=['datasets', 'segmentor'], stages=[
    dict(name='warmup', kind='train', label='source-only', evaluate=True, config=warmup),
    # the warm-up's BN statistics re-estimated on the target training images
    dict(name='calibration', kind='bn_calibration', network='warmup', evaluate=True,
         config=warmup),
    dict(name='pseudo_labels', kind='pseudo_labels', network='calibration'),
    dict(name='prototypes', kind='prototypes', network='calibration',
         pseudo_labels='pseudo_labels'),
    dict(name='self_training', kind='train', label='self-training', evaluate=True,
         network='calibration',
         config=recipe + 'mean-teacher_deeplabv3plus_efficientnet-lite0_folders-128x64.py'),
    dict(name='cpsl', kind='train', label='CPSL', evaluate=True, network='calibration',
         pseudo_labels='pseudo_labels', statistics='prototypes'),
    # the network CPSL validated with (model.predict_with), as a plain mmseg model
    dict(name='export', kind='export', label='CPSL exported', network='cpsl',
         evaluate=True),
])
