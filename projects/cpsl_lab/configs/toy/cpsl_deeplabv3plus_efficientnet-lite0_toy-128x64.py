# CPSL on the toy domains with an ImageNet-pretrained network (README main job): the
# from-scratch family's CPSL config (./cpsl_deeplabv3plus_r18-tiny_toy-128x64.py, whose
# comments say where and why the toy settings differ from the paper) with the
# pretrained segmentor, its backbone at a tenth of the rate, and the same pipeline run
# on this family's configs.
_base_ = [
    './cpsl_deeplabv3plus_r18-tiny_toy-128x64.py',
    '../../../../configs/_base_/models/deeplabv3plus_efficientnet-lite0.py'
]
data_preprocessor = _base_.efficientnet_preprocessor
# The pretrained family's EMA decay 0.999 (../../../../configs/_base_/uda/cpu_adaptation.py
# says why it differs from the from-scratch family's 0.99).
model = dict(segmentor=dict(_delete_=True, **_base_.efficientnet_deeplabv3plus),
             **_base_.pretrained_cpu_adaptation)
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'student.backbone': dict(lr_mult=0.1)}))
# The from-scratch pipeline's stages, each config (and variant config) of this family.
family_stages = [
    dict(stage,
         **{key: stage[key].replace('r18-tiny', 'efficientnet-lite0')
            for key in ('config', ) if key in stage},
         **{key: {name: dict(variant, config=variant['config'].replace(
             'r18-tiny', 'efficientnet-lite0')) for name, variant in stage[key].items()}
            for key in ('variants', ) if key in stage})
    for stage in _base_.uda_pipeline['stages']
]
# Optional (--with NAME): the DAFormer and MIC(DAFormer) spines and CPSL on each, from
# the same calibrated warm-up (and, for CPSL, the same P_ST and prototypes) as the mean
# teacher and CPSL; inserted before the oracle.
spine_stages = [
    dict(name='daformer', kind='train', label='DAFormer spine', evaluate=True,
         optional=True, network='calibration',
         config=_base_.toy_configs + 'daformer_deeplabv3plus_efficientnet-lite0_toy-128x64.py'),
    dict(name='mic', kind='train', label='MIC spine', evaluate=True, optional=True,
         network='calibration',
         config=_base_.toy_configs + 'mic_deeplabv3plus_efficientnet-lite0_toy-128x64.py'),
    dict(name='cpsl_daformer', kind='train', label='CPSL on DAFormer', evaluate=True,
         optional=True, network='calibration', pseudo_labels='pseudo_labels',
         statistics='prototypes',
         config=_base_.toy_configs +
         'cpsl-daformer_deeplabv3plus_efficientnet-lite0_toy-128x64.py'),
    dict(name='cpsl_mic', kind='train', label='CPSL on MIC', evaluate=True, optional=True,
         network='calibration', pseudo_labels='pseudo_labels', statistics='prototypes',
         config=_base_.toy_configs + 'cpsl-mic_deeplabv3plus_efficientnet-lite0_toy-128x64.py'),
]
oracle_at = [stage['name'] for stage in family_stages].index('oracle')
uda_pipeline = dict(
    stages=family_stages[:oracle_at] + spine_stages + family_stages[oracle_at:])
