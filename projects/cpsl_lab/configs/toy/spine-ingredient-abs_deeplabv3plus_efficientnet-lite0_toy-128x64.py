# The one-ingredient A/Bs of the DAFormer / MIC spine (issue 20) as optional stages of
# the README main job's pipeline: each is the mean teacher (stage `self_training`, the
# A of every A/B) with one ingredient on, from the same calibrated warm-up. Run on a
# development tree, never on the reported one:
#   python tools/run_pipeline.py THIS_CONFIG --work-dir DIR --data-root data/toy_dev_v3s
#       --with ab_classmix ab_dacs_augmentation ...
# (data/toy_dev_v3s: projects/cpsl_lab/tools/prepare_toy_data.py --out data/toy_dev_v3s
# --seed 1).
# The ingredients' toy values and why: ../_base_/uda/toy_spine.py.
_base_ = ['./cpsl_deeplabv3plus_efficientnet-lite0_toy-128x64.py']
ingredients = {
    'classmix': 'ClassMix',
    'dacs-augmentation': 'DACS jitter / blur',
    'quality-weighting': 'quality weighting',
    'ema-rampup': 'EMA ramp-up',
    'feature-distance': 'feature distance',
    'masked-consistency': 'masked consistency',
    'rare-class-sampling': 'rare class sampling',
    'lr-warmup': 'LR warm-up',
}
ab_stages = [
    dict(name='ab_' + key.replace('-', '_'), kind='train', label='MT + ' + label,
         evaluate=True, optional=True, network='calibration',
         config=_base_.toy_configs +
         f'mean-teacher-{key}_deeplabv3plus_efficientnet-lite0_toy-128x64.py')
    for key, label in ingredients.items()
]
oracle_at = [stage['name'] for stage in _base_.uda_pipeline['stages']].index('oracle')
uda_pipeline = dict(stages=_base_.uda_pipeline['stages'][:oracle_at] + ab_stages +
                    _base_.uda_pipeline['stages'][oracle_at:])
