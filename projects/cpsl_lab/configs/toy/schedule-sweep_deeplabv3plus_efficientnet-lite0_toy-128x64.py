# The adaptation schedule revisited with the spine ingredients (issue 20, item 5): each
# adaptation stage of the README main job's pipeline (mean teacher, CPSL, the DAFormer
# and MIC spines and CPSL on each) again with one schedule setting changed, as
# optional stages `sched_<stage>_<setting>` from the same calibrated warm-up, P_ST and
# prototypes; and the target oracle at its earlier 600 iterations (issue 19: can the
# oracle learn every class?). Run on a development tree, never on the reported one:
#   python tools/run_pipeline.py THIS_CONFIG --work-dir DIR --data-root data/toy_dev_v3s
#       --with sched_cpsl_lr1e-4 ...
# (data/toy_dev_v3s: projects/cpsl_lab/tools/prepare_toy_data.py --out data/toy_dev_v3s
# --seed 1).
# The toy schedule it revisits: configs/_base_/schedules/cpu_adaptation_300it.py (300
# iterations of AdamW at 3e-4, poly decay) and configs/_base_/uda/cpu_adaptation.py
# (EMA decay 0.999 for this family, lambda2 0).
_base_ = ['./cpsl_deeplabv3plus_efficientnet-lite0_toy-128x64.py']
schedule_settings = {
    # a third of the rate
    'lr1e-4': {'optim_wrapper.optimizer.lr': 1e-4},
    # the from-scratch family's EMA decay 0.99 instead of 0.999 (the paper's, DAFormer's)
    'ema0.99': {'model.teacher_momentum': 0.01},
    # 600 iterations, the poly decay fitted to them (the spines' linear warm-up stays at
    # 12 iterations): twice the adaptation stages' 300, half the oracle's 1,200
    '600it': {'train_cfg.max_iters': 600, 'default_hooks.checkpoint.interval': 600},
    # the spines without the EMA ramp-up min(1 - 1/(t+1), alpha): the decay schedule
    # that reaches alpha = 0.999 only at iteration 999, after the toy run's end
    'no-ema-rampup': {'model.teacher_momentum_rampup': False},
    # the paper's consistency weight lambda2 = 5 (Eq. 13)
    'lambda2-5': {'model.loss_consistency.loss_weight': 5.0},
}
adaptation_stages = ('self_training', 'cpsl', 'daformer', 'mic', 'cpsl_daformer',
                     'cpsl_mic')
only_for = {  # settings that exist only in some stages (default: adaptation_stages)
    '600it': adaptation_stages + ('oracle', ),
    'no-ema-rampup': ('daformer', 'mic', 'cpsl_daformer', 'cpsl_mic'),
    'lambda2-5': ('cpsl', 'cpsl_daformer', 'cpsl_mic'),
}
# the poly decay's place in each stage's param_scheduler (after the spines' warm-up)
poly_index = dict(self_training=0, cpsl=0, oracle=0, daformer=1, mic=1, cpsl_daformer=1,
                  cpsl_mic=1)
sweep_stages = [
    dict(stage, name=f'sched_{stage["name"]}_{setting}',
         label=f'{stage.get("label", stage["name"])}, {setting}', optional=True,
         evaluate=True,
         options=dict(options, **({
             f'param_scheduler.{poly_index[stage["name"]]}.end':
             options['train_cfg.max_iters']} if 'train_cfg.max_iters' in options else {})))
    for stage in _base_.uda_pipeline['stages'] if stage['name'] in poly_index
    for setting, options in schedule_settings.items()
    if stage['name'] in only_for.get(setting, adaptation_stages)
]
oracle_at = [stage['name'] for stage in _base_.uda_pipeline['stages']].index('oracle')
uda_pipeline = dict(stages=_base_.uda_pipeline['stages'][:oracle_at] + sweep_stages +
                    _base_.uda_pipeline['stages'][oracle_at:])
