"""Paper-scale configs: every config builds, the CPSL configs carry the paper's
hyperparameters, ablations differ in exactly their switch, and every paper config
trains one iteration on CPU at reduced resolution and depth, through mmengine's Runner
(the warm-up -> CPSL -> KD-1 -> KD-2 chain hands real checkpoints on)."""
import copy
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

import cpsl_mmseg  # noqa: F401  (registers every component)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'configs'
ALL_CONFIGS = sorted(
    str(p.relative_to(REPO)) for p in CONFIGS.rglob('*.py')
    if '_base_' not in p.parts and 'pipelines' not in p.parts)
PAPER_DIRS = ('source_only', 'warmup', 'cpsl', 'distill', 'daformer', 'mic')
PAPER_CONFIGS = [
    c for c in ALL_CONFIGS if Path(c).relative_to('configs').parts[0] in PAPER_DIRS
]
TAIL = '4xb1-90k_{}-to-cityscapes-896x512.py'
GTA5_CPSL = 'configs/cpsl/cpsl_deeplabv2_r101_' + TAIL.format('gta5')
SYNTHIA_CPSL = 'configs/cpsl/cpsl_deeplabv2_r101_' + TAIL.format('synthia')
ABLATIONS = {
    'wo-sl': {'model.use_self_labeling': False},
    'wo-st': {'model.use_self_training': False},
    'wo-cb': {'model.sampling': 'uniform', 'model.class_prior.mode': 'uniform'},
    'wo-init': {'model.init_head_from_prototypes': False},
    'wo-aug': {'model.use_strong_augmentation': False},
    'wo-mom': {'model.use_momentum': False},
}

init_default_scope('mmseg')


def load(config: str) -> Config:
    return Config.fromfile(str(REPO / config))


def flatten(node, prefix=''):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out.update(flatten(value, f'{prefix}{key}.'))
        return out
    return {prefix[:-1]: node}


@pytest.fixture(autouse=True)
def plain_config_text(monkeypatch):
    """Skip yapf formatting of the config text the Runner logs and stores in every
    checkpoint (most of a tiny run's wall time); the text is not under test."""
    monkeypatch.setattr(Config, 'pretty_text',
                        property(lambda self: repr(self._cfg_dict.to_dict())))


# ------------------------------------------------------------------ building
@pytest.fixture
def fast_init(monkeypatch):
    """Skip the random initialisation of full-size weights: building checks structure."""
    for name in ('kaiming_uniform_', 'kaiming_normal_', 'uniform_', 'normal_',
                 'trunc_normal_', 'xavier_uniform_', 'xavier_normal_', 'constant_',
                 'zeros_', 'ones_'):
        monkeypatch.setattr(torch.nn.init, name, lambda t, *a, **k: t)


def test_paper_config_set_is_complete():
    names = {Path(c).name for c in PAPER_CONFIGS}
    for dataset in ('gta5', 'synthia'):
        assert f'cpsl_deeplabv2_r101_{TAIL.format(dataset)}' in names
        for stage in ('kd1', 'kd2'):
            assert (f'{stage}_deeplabv2_r101_4xb1-40k_{dataset}-to-cityscapes-'
                    '896x512.py') in names
        assert (f'adaptseg_deeplabv2_r101_4xb1-40k_{dataset}-to-cityscapes-'
                '896x512.py') in names
        assert f'deeplabv2_r101_4xb1-40k_{dataset}-896x512.py' in names
    for net in ('deeplabv3plus_r101', 'segformer_mit-b5'):
        assert f'cpsl_{net}_{TAIL.format("gta5")}' in names
    for switch in ABLATIONS:
        assert f'cpsl-{switch}_deeplabv2_r101_{TAIL.format("gta5")}' in names


@pytest.mark.parametrize('config', ALL_CONFIGS)
def test_config_builds(config, fast_init, no_downloads):
    cfg = load(config)
    assert cfg.custom_imports['imports'] == ['cpsl_mmseg']
    model_cfg = copy.deepcopy(cfg.model)
    no_downloads(model_cfg)
    if model_cfg.get('feature_distance'):  # named, never loaded: building only
        model_cfg.feature_distance.init_cfg = dict(type='Pretrained', checkpoint='unused')
    model = MODELS.build(model_cfg)
    assert sum(p.numel() for p in model.parameters()) > 0


# ------------------------------------------------------- paper hyperparameters
@pytest.mark.parametrize('config', [GTA5_CPSL, SYNTHIA_CPSL])
def test_cpsl_configs_carry_the_paper_hyperparameters(config):
    cfg = load(config)
    model = cfg.model
    num_classes = 19 if 'gta5' in config else 16
    assert model.type == 'CPSL'
    # network: DeepLab v2, plain ResNet-101 (torchvision layout), OS 8, BN, 256-d Z
    seg = model.segmentor
    assert (seg.backbone.type, seg.backbone.depth) == ('ResNet', 101)
    assert seg.backbone.style == 'pytorch'
    assert tuple(seg.backbone.dilations) == (1, 1, 2, 4)
    assert tuple(seg.backbone.strides) == (1, 2, 1, 1)
    assert seg.backbone.norm_cfg.type == 'BN'
    assert seg.decode_head.type == 'DeepLabV2SEHead'
    assert seg.decode_head.channels == 256
    assert seg.decode_head.num_classes == num_classes
    # crop 896x512, batch 4 = 4 GPUs x 1 image
    assert tuple(cfg.crop_size) == (512, 896)
    assert tuple(cfg.data_preprocessor.size) == (512, 896)
    assert cfg.train_dataloader.batch_size == 1
    for stream in ('source', 'target'):
        crops = [t for t in cfg.train_dataloader.dataset[stream].pipeline
                 if t.type == 'RandomCrop']
        assert [tuple(t.crop_size) for t in crops] == [(512, 896)]
    # CPSL: lambda1, lambda2, tau, epsilon, bank, M, momentum 0.999 (mmengine 0.001)
    assert model.loss_self_labeling.loss_weight == 0.1
    assert model.loss_consistency.loss_weight == 5.0
    assert model.self_labeling_head.temperature == 0.08
    assert model.sinkhorn.epsilon == 0.05
    assert model.memory_bank_images * model.samples_per_image == 65536
    assert model.samples_per_image == 512
    assert model.teacher_momentum == 0.001
    assert model.self_labeling_head.momentum == 0.001
    assert model.sampling == 'class_balanced'
    for switch in ('use_self_labeling', 'use_self_training',
                   'init_head_from_prototypes', 'use_strong_augmentation',
                   'use_momentum'):
        assert model[switch] is True, switch
    # optimisation: SGD 0.9, wd 2e-4, lr 1e-4 / head 5e-4, poly 0.9 over 90k
    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'SGD'
    assert optim.optimizer.lr == 1e-4
    assert optim.optimizer.momentum == 0.9
    assert optim.optimizer.weight_decay == 2e-4
    keys = optim.paramwise_cfg.custom_keys
    assert optim.optimizer.lr * keys['self_labeling_head'].lr_mult == pytest.approx(5e-4)
    assert keys['student.backbone'].lr_mult == 1.0
    assert keys['student.decode_head'].lr_mult == 1.0
    (poly, ) = cfg.param_scheduler
    assert (poly.type, poly.power, poly.end, poly.eta_min) == ('PolyLR', 0.9, 90000, 0.0)
    assert cfg.train_cfg.max_iters == 90000
    # stage inputs named explicitly
    assert model.warmup_checkpoint.endswith('segmentor_iter_40000.pth')
    pst = [t for t in cfg.train_dataloader.dataset.target.pipeline
           if t.type == 'LoadSoftPseudoLabel']
    assert len(pst) == 1 and pst[0].num_classes == num_classes
    assert [h.type for h in cfg.custom_hooks] == ['MeanTeacherHook', 'OnlineClusteringHook']


def test_synthia_config_evaluates_16_and_13_classes():
    cfg = load(SYNTHIA_CPSL)
    assert cfg.val_evaluator.type == 'SubsetIoUMetric'
    assert cfg.val_evaluator.class_subsets == 'synthia'
    assert cfg.val_dataloader.dataset.type == 'Cityscapes16Dataset'
    assert cfg.train_dataloader.dataset.source.type == 'SynthiaDataset'
    assert cfg.train_dataloader.dataset.target.type == 'Cityscapes16Dataset'


@pytest.mark.parametrize('config', ['gta5', 'synthia'])
def test_distill_configs_carry_the_paper_settings(config):
    kd1 = load(f'configs/distill/kd1_deeplabv2_r101_4xb1-40k_{config}-to-cityscapes-'
               '896x512.py')
    kd2 = load(f'configs/distill/kd2_deeplabv2_r101_4xb1-40k_{config}-to-cityscapes-'
               '896x512.py')
    for cfg in (kd1, kd2):
        assert cfg.model.type == 'CPSLDistill'
        assert cfg.model.confidence_threshold == 0.95
        assert cfg.optim_wrapper.optimizer.lr == 6e-4
        assert cfg.model.student_checkpoint
        assert cfg.model.student.backbone.init_cfg is None
    # explicit hand-off: KD-1 learns from stage 1, KD-2 from KD-1's output
    assert kd1.model.teacher_checkpoint.startswith(
        f'work_dirs/cpsl_deeplabv2_r101_4xb1-90k_{config}-to-cityscapes-896x512/')
    assert kd2.model.teacher_checkpoint.startswith(
        f'work_dirs/kd1_deeplabv2_r101_4xb1-40k_{config}-to-cityscapes-896x512/')
    assert flatten(kd1.to_dict()).keys() == flatten(kd2.to_dict()).keys()


def test_adversarial_warmup_config():
    cfg = load('configs/warmup/adaptseg_deeplabv2_r101_4xb1-40k_gta5-to-cityscapes-'
               '896x512.py')
    assert cfg.model.adversarial_weight == 0.01
    assert cfg.optim_wrapper.discriminator.optimizer.type == 'Adam'
    assert cfg.optim_wrapper.discriminator.optimizer.lr == 1e-4
    assert cfg.model_wrapper_cfg.type == 'MMSeparateDistributedDataParallel'
    target = [t.type for t in cfg.train_dataloader.dataset.target.pipeline]
    assert 'LoadSoftPseudoLabel' not in target


SPINE_TAIL = 'segformer_mit-b5_1xb2-40k_{}-to-cityscapes-512x512.py'


@pytest.mark.parametrize('dataset', ['gta5', 'synthia'])
@pytest.mark.parametrize('spine', ['daformer/daformer', 'daformer/cpsl-daformer',
                                   'mic/mic-daformer', 'mic/cpsl-mic-daformer'])
def test_daformer_and_mic_configs_carry_their_published_settings(spine, dataset):
    cfg = load(f'configs/{spine}_{SPINE_TAIL.format(dataset)}')
    model = cfg.model
    assert model.type == ('CPSL' if 'cpsl' in spine else 'MeanTeacherSelfTraining')
    assert model.segmentor.backbone.type == 'MixVisionTransformer'
    assert model.segmentor.backbone.num_layers == [3, 6, 40, 3]  # MiT-B5
    # optimiser: AdamW 6e-5, head x10, no decay on norms / position blocks;
    # linear warm-up of 1,500 iterations from 1e-6, poly 1.0, 40k iterations
    optim = cfg.optim_wrapper
    assert (optim.optimizer.type, optim.optimizer.lr) == ('AdamW', 6e-5)
    keys = optim.paramwise_cfg.custom_keys
    assert keys['student.decode_head'].lr_mult == 10.0
    assert keys['norm'].decay_mult == keys['pos_block'].decay_mult == 0.0
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end) == ('LinearLR', 1e-6, 1500)
    assert (poly.type, poly.power, poly.end) == ('PolyLR', 1.0, 40000)
    assert cfg.train_cfg.max_iters == 40000
    # data: batch 2, 512x512 crops, GTA5 1280x720 / SYNTHIA 1280x760, Cityscapes 1024x512
    data = cfg.train_dataloader
    assert data.batch_size == 2
    scales = {s: [t.scale for t in data.dataset[s].pipeline if t.type == 'Resize']
              for s in ('source', 'target')}
    assert scales == dict(source=[(1280, 720 if dataset == 'gta5' else 760)],
                          target=[(1024, 512)])
    crops = [t.crop_size for s in ('source', 'target') for t in data.dataset[s].pipeline
             if t.type == 'RandomCrop']
    assert crops == [(512, 512)] * 2
    assert data.dataset.rare_class_sampling == dict(
        class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5, stats_file='class_stats.json')
    # the ingredients
    assert model.mix == 'classmix'
    assert model.mix_augmentation == dict(color_jitter_strength=0.2,
                                          color_jitter_prob=0.8, blur_prob=0.5)
    assert model.pseudo_label_weighting == dict(threshold=0.968, ignore_top=15,
                                                ignore_bottom=120)
    assert model.teacher_momentum == 0.001 and model.teacher_momentum_rampup
    things = ([6, 7, 11, 12, 13, 14, 15, 16, 17, 18] if dataset == 'gta5'
              else [6, 7, 10, 11, 12, 13, 14, 15])
    assert model.feature_distance.classes == things
    assert (model.feature_distance.loss_weight,
            model.feature_distance.scale_min_ratio) == (0.005, 0.75)
    if 'mic' in spine:
        assert model.masked_consistency == dict(
            block_size=32, mask_ratio=0.7, loss_weight=1.0,
            color_augmentation=model.mix_augmentation)
    else:
        assert 'masked_consistency' not in model
    if 'cpsl' in spine:  # from the SegFormer warm-up, P_ST stored, ImageNet for FD only
        assert model.warmup_checkpoint.endswith('iter_40000.pth')
        assert model.segmentor.backbone.init_cfg is None
        assert model.feature_distance.init_cfg.type == 'Pretrained'
        assert model.loss_consistency.loss_weight == 5.0
        assert model.target_loss_view == 'weak'
    else:  # from ImageNet, no consistency term, no strong view
        assert model.segmentor.backbone.init_cfg.type == 'Pretrained'
        assert model.loss_consistency.loss_weight == 0.0
        assert 'StrongPhotometricView' not in str(data.dataset.target.pipeline)


@pytest.mark.parametrize('switch', sorted(ABLATIONS))
def test_ablation_differs_in_exactly_its_switch(switch):
    full = flatten(load(GTA5_CPSL).to_dict())
    ablation = flatten(load(
        f'configs/cpsl/ablations/cpsl-{switch}_deeplabv2_r101_{TAIL.format("gta5")}'
    ).to_dict())
    assert full.keys() == ablation.keys()
    changed = {k: ablation[k] for k in full if full[k] != ablation[k]}
    assert changed == ABLATIONS[switch]


def train_one_iteration(cfg: Config):
    """Train and return (runner, path of the final checkpoint)."""
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()
    checkpoint = Path(cfg.work_dir) / 'iter_1.pth'
    assert checkpoint.is_file()
    return runner, checkpoint


def logged_losses(runner) -> dict:
    scalars = runner.message_hub.log_scalars
    return {k[len('train/'):]: scalars[k].current() for k in scalars
            if k.startswith('train/') and 'loss' in k}


def assert_finite_losses(runner, expected):
    losses = logged_losses(runner)
    for key in expected:
        assert key in losses, (key, sorted(losses))
    for key, value in losses.items():
        assert np.isfinite(value), (key, value)


# ------------------------------------------------- one iteration per config
CHAIN_STAGES = ('warmup/adaptseg', 'cpsl/cpsl_deeplabv2', 'distill/kd1', 'distill/kd2')
SINGLE = [c for c in PAPER_CONFIGS
          if not any(c.startswith(f'configs/{s}') for s in CHAIN_STAGES)]


@pytest.mark.parametrize('config', SINGLE)
def test_one_training_iteration(config, paper_data, tmp_path, shrink_paper_config):
    cfg = shrink_paper_config(load(config), paper_data, tmp_path / 'work')
    runner, _ = train_one_iteration(cfg)
    expected = ['loss']
    if cfg.model.type in ('CPSL', 'MeanTeacherSelfTraining'):
        expected += ['src.decode.loss_ce', 'tgt.loss_tgt', 'loss_reg']
        if cfg.model.get('feature_distance'):
            expected.append('src.loss_feature_distance')
        if cfg.model.get('masked_consistency'):
            expected.append('masked.loss_tgt')
    if cfg.model.type == 'CPSL':
        if cfg.model.use_self_labeling:
            expected.append('loss_sl')
        if cfg.model.get('self_labeling_from_scores'):
            expected.append('loss_sl_scores')
        if cfg.model.get('loss_bank_contrast'):
            expected.append('loss_contrast')
    assert_finite_losses(runner, expected)


def test_reference_code_config_switches_every_documented_departure():
    """configs/cpsl/cpsl-reference-code_*: the paper config with exactly the switches
    of docs/fidelity.md's reference-code column changed."""
    paper = flatten(load(GTA5_CPSL)._cfg_dict.to_dict())
    reference = flatten(load('configs/cpsl/cpsl-reference-code_deeplabv2_r101_'
                             + TAIL.format('gta5'))._cfg_dict.to_dict())
    changed = {k for k in set(paper) | set(reference) if paper.get(k) != reference.get(k)}
    model_switches = {k for k in changed if k.startswith('model.')}
    assert model_switches == {
        'model.sampling', 'model.samples_per_image', 'model.memory_bank_images',
        'model.use_bank_before_full', 'model.sinkhorn_per_image',
        'model.class_prior.mode', 'model.self_labeling_from_scores',
        'model.loss_bank_contrast.type', 'model.loss_bank_contrast.temperature',
        'model.loss_bank_contrast.samples_per_image',
        'model.loss_bank_contrast.loss_weight', 'model.loss_target.ce_weight',
        'model.loss_target.rce_weight', 'model.target_loss_view', 'model.cutmix_box',
        'model.consistency_space', 'model.loss_consistency.symmetric',
        'model.teacher_train_mode', 'model.teacher_feature', 'model.teacher_input'}
    text = (REPO / 'docs/fidelity.md').read_text()
    for key in model_switches:
        assert key.split('.')[1] in text, key  # every switch is in the fidelity table
    assert reference['model.loss_target.rce_weight'] == 1.0
    assert any('LabColorTransfer' in str(v) for k, v in reference.items()
               if k.startswith('train_dataloader.dataset.source.pipeline'))
    assert any('FullImageView' in str(v) for k, v in reference.items()
               if k.startswith('train_dataloader.dataset.target.pipeline'))


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('dataset', ['gta5', 'synthia'])
def test_stage_chain_hands_checkpoints_on(dataset, paper_data, tmp_path,
                                          shrink_paper_config, tiny_simclr):
    """Adversarial warm-up -> extracted segmentor -> CPSL -> KD-1 -> KD-2, one
    iteration each, every stage starting from the file the previous one wrote; the
    last stage is evaluated on the (16-class for SYNTHIA) Cityscapes val split."""
    tail = f'{dataset}-to-cityscapes-896x512.py'

    def tiny(config: str, stage: str) -> Config:
        return shrink_paper_config(load(config), paper_data, tmp_path / stage)

    warm_cfg = tiny(f'configs/warmup/adaptseg_deeplabv2_r101_4xb1-40k_{tail}', 'warmup')
    runner, warm_ckpt = train_one_iteration(warm_cfg)
    assert_finite_losses(runner, ['src.loss_ce', 'loss_adv', 'loss_d'])
    segmentor = _tool('extract_submodel').main(
        [str(warm_ckpt), str(tmp_path / 'segmentor.pth'), '--prefix', 'student.'])
    extracted = torch.load(segmentor, weights_only=False)['meta']['dataset_meta']
    assert list(extracted['classes']) == list(  # mmseg's APIs name the classes
        runner.train_dataloader.dataset.metainfo['classes'])

    cpsl_cfg = tiny(f'configs/cpsl/cpsl_deeplabv2_r101_4xb1-90k_{tail}', 'cpsl')
    cpsl_cfg.model.warmup_checkpoint = segmentor
    runner, cpsl_ckpt = train_one_iteration(cpsl_cfg)
    assert_finite_losses(runner, ['src.decode.loss_ce', 'tgt.loss_tgt', 'loss_sl',
                                  'loss_reg'])
    warm_state = torch.load(segmentor, weights_only=False)['state_dict']
    cpsl_state = torch.load(cpsl_ckpt, weights_only=False)['state_dict']
    for key in ('backbone.conv1.weight', 'decode_head.conv_seg.weight'):
        # one step at lr 1e-4 and an EMA step of 0.001 stay within 1e-4 of the
        # warm-up weights; an independent initialisation would not
        torch.testing.assert_close(cpsl_state[f'teacher.{key}'], warm_state[key],
                                   rtol=0, atol=1e-4)

    student_file = None
    teacher = cpsl_ckpt
    for stage in ('kd1', 'kd2'):
        cfg = tiny(f'configs/distill/{stage}_deeplabv2_r101_4xb1-40k_{tail}', stage)
        student_file = student_file or tiny_simclr(cfg, tmp_path / 'simclr.pth')
        cfg.model.update(teacher_checkpoint=str(teacher),
                         student_checkpoint=student_file)
        runner, teacher = train_one_iteration(cfg)
        assert_finite_losses(runner, ['loss_kd', 'loss_pseudo'])
        assert logged_losses(runner)['loss_kd'] >= 0
    metrics = runner.val()
    expected = {'mIoU', 'MPA'} | ({'mIoU16', 'mIoU13'} if dataset == 'synthia' else set())
    assert expected <= set(metrics), sorted(metrics)


def test_cityscapes16_maps_train_ids_to_synthia_classes(paper_data):
    dataset = DATASETS.build(dict(
        type='Cityscapes16Dataset', data_root=str(paper_data / 'cityscapes'),
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=[dict(type='LoadAnnotations')]))
    assert len(dataset.metainfo['classes']) == 16
    sample = dataset[0]
    raw = cv2.imread(sample['seg_map_path'], cv2.IMREAD_UNCHANGED)
    mapped = sample['gt_seg_map']
    # Cityscapes train ids -> SYNTHIA ids: terrain 9, truck 14, train 16 -> 255
    expected = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 255,
                10: 9, 11: 10, 12: 11, 13: 12, 14: 255, 15: 13, 16: 255, 17: 14,
                18: 15, 255: 255}
    for cityscapes_id, synthia_id in expected.items():
        assert (mapped[raw == cityscapes_id] == synthia_id).all(), cityscapes_id
