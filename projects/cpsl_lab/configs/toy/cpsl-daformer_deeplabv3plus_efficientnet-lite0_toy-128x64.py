# CPSL on the toy DAFormer spine: the toy CPSL config
# (./cpsl_deeplabv3plus_efficientnet-lite0_toy-128x64.py) with the DAFormer
# ingredients, rare class sampling and the warm-up of
# ./daformer_deeplabv3plus_efficientnet-lite0_toy-128x64.py; the quality weight is that
# of the rectified labels. The strong view is dropped as in the spine (the toy's
# lambda2 = 0 leaves it nothing else to do). From the same calibrated warm-up, P_ST and
# prototypes as CPSL: the pipeline's optional stage `cpsl_daformer`.
_base_ = [
    './cpsl_deeplabv3plus_efficientnet-lite0_toy-128x64.py',
    '../_base_/uda/toy_spine.py'
]
model = dict(**_base_.toy_daformer)
train_dataloader = dict(dataset=dict(
    target=dict(pipeline=[step for step in _base_.target_pipeline
                          if step['type'] != 'StrongPhotometricView']),
    rare_class_sampling=_base_.toy_rare_class_sampling))
param_scheduler = [_base_.toy_linear_warmup, *_base_.param_scheduler]
