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
model = dict(segmentor=dict(_delete_=True, **_base_.efficientnet_deeplabv3plus))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'student.backbone': dict(lr_mult=0.1)}))
# The from-scratch pipeline's stages, each config (and variant config) of this family.
uda_pipeline = dict(stages=[
    dict(stage,
         **{key: stage[key].replace('r18-tiny', 'efficientnet-lite0')
            for key in ('config', ) if key in stage},
         **{key: {name: dict(variant, config=variant['config'].replace(
             'r18-tiny', 'efficientnet-lite0')) for name, variant in stage[key].items()}
            for key in ('variants', ) if key in stage})
    for stage in _base_.uda_pipeline['stages']
])
