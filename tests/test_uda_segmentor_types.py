"""Any mmseg segmentor under the UDA wrappers: an EncoderDecoder with any head (PSPNet
with an auxiliary head, UPerNet, MobileNetV2 + ASPP) and a CascadeEncoderDecoder
(OCRNet, whose decode_head is a list: Z is its last head's pre-classifier feature)."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import cpsl_mmseg  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
CPSL = 'configs/smoke/cpsl_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'
OCRNET = 'configs/smoke/cpsl_ocrnet_r18-tiny_2xb2-20it_smoke-64x64.py'
NORM = dict(type='BN', requires_grad=True)
LOSS = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
HEAD = dict(num_classes=3, norm_cfg=NORM, align_corners=False, loss_decode=LOSS)
# channels of the tiny ResNet-18 stages of configs/_base_/models/fcn_r18-tiny.py
SEGMENTORS = {
    'pspnet+aux': dict(
        decode_head=dict(type='PSPHead', in_channels=64, in_index=3, channels=16,
                         pool_scales=(1, 2, 3, 6), dropout_ratio=0.1, **HEAD),
        auxiliary_head=dict(type='FCNHead', in_channels=32, in_index=2, channels=16,
                            num_convs=1, concat_input=False, dropout_ratio=0.1,
                            **dict(HEAD, loss_decode=dict(LOSS, loss_weight=0.4)))),
    'upernet': dict(
        decode_head=dict(type='UPerHead', in_channels=[8, 16, 32, 64],
                         in_index=[0, 1, 2, 3], pool_scales=(1, 2, 3, 6), channels=16,
                         dropout_ratio=0.1, **HEAD)),
    'mobilenetv2+aspp': dict(
        backbone=dict(_delete_=True, type='MobileNetV2', widen_factor=0.25,
                      strides=(1, 2, 2, 1, 1, 1, 1), dilations=(1, 1, 1, 2, 2, 4, 4),
                      out_indices=(1, 2, 4, 6), norm_cfg=NORM),
        decode_head=dict(type='ASPPHead', in_channels=80, in_index=3, channels=16,
                         dilations=(1, 12, 24, 36), dropout_ratio=0.1, **HEAD)),
}


def cpsl_config(segmentor: dict) -> Config:
    cfg = Config.fromfile(str(REPO / CPSL))
    merged = Config(dict(model=copy.deepcopy(cfg.model.segmentor)))
    merged.merge_from_dict(dict(model=dict(
        segmentor, decode_head=dict(segmentor['decode_head'], _delete_=True))))
    cfg.model.segmentor = merged.model
    return cfg


def one_cpsl_step(model_cfg: dict, paired_batch) -> dict:
    init_default_scope('mmseg')
    model = MODELS.build(model_cfg)
    model.init_weights()
    head = model.self_labeling_head
    model.initialize_statistics(torch.randn(3, head.feat_dim), torch.tensor([5., 3., 2.]))
    model.train()
    losses = model.loss(*paired_batch())
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert head.prototypes.grad is not None and head.prototypes.grad.abs().sum() > 0
    return losses


@pytest.mark.parametrize('name', sorted(SEGMENTORS))
def test_encoder_decoder_heads_train_under_cpsl(name, paired_batch):
    losses = one_cpsl_step(cpsl_config(SEGMENTORS[name]).model, paired_batch)
    assert {'tgt.loss_tgt', 'loss_sl', 'loss_reg'} <= set(losses)
    for key, value in losses.items():
        assert torch.isfinite(value).all(), key
    if name == 'pspnet+aux':  # the student's own losses, auxiliary head included
        assert {'src.decode.loss_ce', 'src.aux.loss_ce'} <= set(losses)


def test_cascade_decode_head_list_trains_under_cpsl(paired_batch):
    cfg = Config.fromfile(str(REPO / OCRNET))
    assert isinstance(cfg.model.segmentor.decode_head, list)
    losses = one_cpsl_step(cfg.model, paired_batch)
    assert {'src.decode_0.loss_ce', 'src.decode_1.loss_ce', 'loss_sl'} <= set(losses)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    # Z is the OCR head's pre-classifier feature (its conv_seg input), not the FCN's
    assert model.self_labeling_head.feat_dim == \
        model.student.decode_head[-1].conv_seg.in_channels == 32
    assert model.num_classes == 3


@pytest.mark.parametrize('trainer', ['tools/train.py', 'mmseg'])
def test_cascade_config_trains_with_our_and_mmsegs_train_py(
        trainer, tmp_path, smoke_uda_data, uda_options, run_tool):
    """The OCRNet CPSL config through our tools/train.py and through the train.py
    that mmsegmentation itself packages (plug-and-play: no tool of ours needed)."""
    if trainer == 'mmseg':
        import mmseg
        trainer = Path(mmseg.__file__).parent / '.mim' / 'tools' / 'train.py'
    run_tool(['python', trainer, OCRNET, '--work-dir', tmp_path, '--cfg-options',
              *uda_options(smoke_uda_data, OCRNET), 'train_cfg.max_iters=2',
              'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2'])
    state = torch.load(tmp_path / 'iter_2.pth', weights_only=False)['state_dict']
    assert bool(state['statistics_initialized'])
    assert state['self_labeling_head.prototypes'].shape == (3, 32)
