"""The lab's toy configs: each builds through the registries, loads the lab by
custom_imports, and the self-training baseline differs from CPSL in the method only."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / 'projects' / 'cpsl_lab' / 'configs' / 'toy'
CPSL = TOY / 'cpsl_deeplabv3plus_r18-tiny_toy-128x64.py'
MEAN_TEACHER = TOY / 'mean-teacher_deeplabv3plus_r18-tiny_toy-128x64.py'


@pytest.mark.parametrize('config', sorted(p.name for p in TOY.glob('*.py')))
def test_toy_config_builds(config):
    cfg = Config.fromfile(str(TOY / config))
    assert cfg.custom_imports['imports'] == ['cpsl_mmseg', 'cpsl_lab']
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_baseline_and_cpsl_share_network_data_schedule_and_toy_settings():
    cpsl, baseline = Config.fromfile(str(CPSL)), Config.fromfile(str(MEAN_TEACHER))
    assert (cpsl.model.type, baseline.model.type) == ('CPSL', 'MeanTeacherSelfTraining')
    assert cpsl.model.segmentor == baseline.model.segmentor
    for key in ('teacher_momentum', 'loss_consistency', 'loss_target',
                'freeze_norm_statistics', 'cutmix_prob', 'confidence_threshold'):
        assert cpsl.model[key] == baseline.model[key], key
    assert baseline.model.pseudo_label_source == 'teacher'
    for key in ('param_scheduler', 'train_cfg', 'val_dataloader'):
        assert cpsl[key] == baseline[key], key
    assert cpsl.optim_wrapper.optimizer == baseline.optim_wrapper.optimizer
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
    assert baseline_stage['config'].endswith(MEAN_TEACHER.name)
