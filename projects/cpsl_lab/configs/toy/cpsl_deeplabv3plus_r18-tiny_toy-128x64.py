# CPSL on the offline toy domains (README main job: tools/run_pipeline.py). The
# adapted network is the warm-up's DeepLabV3+; the paper's hyperparameters are kept
# except where the toy scale needs smaller numbers: M = 16 pixels per 64x128 crop (of
# its 16x32 stride-4 feature pixels; the paper's 512 of a 896x512 crop's 7,168
# stride-8 pixels is 7 %, 16 of 512 is 3 %), a bank of the paper's 128 images (2,048
# rows, 16 iterations of 8 images), and the toy adaptation settings shared with the
# self-training baseline (configs/_base_/uda/cpu_adaptation.py: lambda2 = 0, EMA decay
# 0.99 for the teacher and, here, the momentum head, frozen calibrated BN).
_base_ = [
    '../_base_/models/deeplabv3plus_r18-tiny-d8.py',
    '../_base_/datasets/toy_uda.py', '../../../../configs/_base_/uda/cpsl.py',
    '../../../../configs/_base_/uda/cpu_adaptation.py', '../_base_/default_runtime.py',
    '../../../../configs/_base_/schedules/cpu_adaptation_300it.py'
]
model = dict(_delete_=True, **_base_.cpsl)
model.update(
    segmentor=_base_.model,
    memory_bank_images=128,
    samples_per_image=16,
    self_labeling_head=dict(_base_.cpsl.self_labeling_head, momentum=0.01),
    **_base_.cpu_adaptation)
optim_wrapper = dict(paramwise_cfg=_base_.cpsl_paramwise_cfg)
custom_hooks = _base_.cpsl_hooks
randomness = dict(seed=0)
# The pipeline around this config (tools/run_pipeline.py, the README main job);
# stage configs sit beside this file, no config = this file. The lab's stage kinds
# (toy tree, pseudo-label analysis) are registered by importing cpsl_lab.pipeline_stages.
toy_configs = '{{ fileDirname }}/'
uda_pipeline = dict(imports=['cpsl_lab.pipeline_stages'], stages=[
    dict(name='data', kind='toy_data'),
    dict(name='warmup', kind='train', label='source-only', evaluate=True,
         config=toy_configs + 'deeplabv3plus_r18-tiny_source-only_toy-128x64.py',
         # --warmup adversarial: the paper's output-space adversarial warm-up
         variants=dict(adversarial=dict(
             label='adversarial warm-up', extract='student.',
             config=toy_configs + 'adaptseg_deeplabv3plus_r18-tiny_toy-128x64.py'))),
    # the warm-up's BN statistics re-estimated on the target training images
    dict(name='calibration', kind='bn_calibration', network='warmup', evaluate=True,
         config=toy_configs + 'deeplabv3plus_r18-tiny_source-only_toy-128x64.py'),
    dict(name='pseudo_labels', kind='pseudo_labels', network='calibration'),
    dict(name='prototypes', kind='prototypes', network='calibration',
         pseudo_labels='pseudo_labels'),
    # the baseline, by type: MeanTeacherSelfTraining on the same schedule
    dict(name='self_training', kind='train', label='self-training', evaluate=True,
         network='calibration',
         config=toy_configs + 'mean-teacher_deeplabv3plus_r18-tiny_toy-128x64.py'),
    dict(name='cpsl', kind='train', label='CPSL', evaluate=True, network='calibration',
         pseudo_labels='pseudo_labels', statistics='prototypes'),
    dict(name='oracle', kind='train', label='target oracle', evaluate=True,
         optional=True,
         config=toy_configs + 'deeplabv3plus_r18-tiny_target-oracle_toy-128x64.py'),
    dict(name='analysis', kind='analysis', runs=('self_training', 'cpsl')),
    # --with export: the network CPSL validated with, as a plain mmseg model
    dict(name='export', kind='export', label='CPSL exported', network='cpsl',
         evaluate=True, optional=True),
])
