"""Distillation stages (CPSLDistill): KL and hard-label math on hand examples, the 0.95
confidence threshold, and the checked stage hand-off (missing / wrong files refused)."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import cpsl_mmseg  # noqa: F401  (registers CPSLDistill)
from cpsl_mmseg.models.segmentors.distill import (confident_hard_labels,
                                                  pixel_kl_divergence)

init_default_scope('mmseg')

NUM_CLASSES = 3
STUDENT = dict(
    type='EncoderDecoder',
    backbone=dict(type='ResNet', depth=18, base_channels=8, stem_channels=8,
                  out_indices=(3, ), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                  norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True,
                  contract_dilation=False),
    decode_head=dict(type='DeepLabV2SEHead', in_channels=64, in_index=0, channels=16,
                     norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
                     dropout_ratio=0.0, num_classes=NUM_CLASSES, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))


def logits_of(probs):
    """(B, C, H, W) logits whose softmax is ``probs``."""
    return torch.tensor(probs, dtype=torch.float32).log()


# ----------------------------------------------------------------- loss math
def test_kl_matches_the_hand_computed_value():
    teacher = logits_of([0.9, 0.1])[None, :, None, None]
    student = logits_of([0.5, 0.5])[None, :, None, None]
    expected = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)  # 0.36806...
    assert pixel_kl_divergence(student, teacher).item() == pytest.approx(expected, abs=1e-6)
    # direction: KL(teacher || student), not KL(student || teacher)
    reverse = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert abs(expected - reverse) > 0.1
    # the reference code's bug (kl_div on probabilities) gives a negative "loss" here
    buggy = F.kl_div(student.softmax(1), teacher.softmax(1), reduction='sum')
    assert buggy.item() < 0


def test_kl_is_zero_for_equal_outputs_and_averages_valid_pixels_only():
    torch.manual_seed(0)
    teacher = torch.randn(2, 4, 3, 5)
    assert pixel_kl_divergence(teacher.clone(), teacher).item() == pytest.approx(0, abs=1e-6)
    student = torch.randn(2, 4, 3, 5, requires_grad=True)
    per_pixel = (teacher.softmax(1) * (teacher.log_softmax(1) - student.log_softmax(1))).sum(1)
    assert (per_pixel >= -1e-6).all()
    valid = torch.zeros(2, 3, 5, dtype=torch.bool)
    valid[0, 1, 2] = valid[1, 0, 4] = True
    got = pixel_kl_divergence(student, teacher, valid)
    assert got.item() == pytest.approx(
        (per_pixel[0, 1, 2] + per_pixel[1, 0, 4]).item() / 2, abs=1e-6)
    got.backward()
    assert student.grad[0, :, 0, 0].abs().sum() == 0  # masked pixel: no gradient
    assert student.grad[0, :, 1, 2].abs().sum() > 0


def test_confidence_threshold_keeps_pixels_at_or_above_it():
    probs = torch.tensor([[0.96, 0.04], [0.951, 0.049], [0.949, 0.051], [0.3, 0.7],
                          [0.02, 0.98]]).T.reshape(1, 2, 1, 5)
    labels = confident_hard_labels(probs, 0.95, ignore_index=255)
    assert labels.flatten().tolist() == [0, 0, 255, 255, 1]
    valid = torch.tensor([[[True, False, True, True, True]]])
    labels = confident_hard_labels(probs, 0.95, ignore_index=255, valid=valid)
    assert labels.flatten().tolist() == [0, 255, 255, 255, 1]
    assert confident_hard_labels(probs, 0.0).flatten().tolist() == [0, 0, 0, 1, 1]


# ------------------------------------------------------------- the segmentor
def samples(batch, height, width):
    out = []
    for _ in range(batch):
        sample = SegDataSample()
        sample.set_metainfo(dict(img_shape=(height, width), ori_shape=(height, width),
                                 pad_shape=(height, width)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, NUM_CLASSES, (1, height, width)))
        out.append(sample)
    return out


def build(**kwargs):
    return MODELS.build(dict(type='CPSLDistill', student=copy.deepcopy(STUDENT),
                             **kwargs))


def test_loss_terms_follow_the_teacher():
    torch.manual_seed(0)
    model = build()
    model.teacher.load_state_dict(model.student.state_dict())
    model.eval()  # identical networks, deterministic: KL must vanish
    inputs = torch.randn(2, 3, 32, 48)
    losses = model.loss(inputs, samples(2, 32, 48))
    assert losses['loss_kd'].item() == pytest.approx(0, abs=1e-5)

    # a teacher certain of class 2 everywhere: every pixel is a hard label 2
    with torch.no_grad():
        model.teacher.decode_head.conv_seg.bias.copy_(torch.tensor([0., 0., 20.]))
    losses = model.loss(inputs, samples(2, 32, 48))
    assert losses['confident_ratio'].item() == 1.0
    student = F.interpolate(model.student.decode_head(model.student.extract_feat(inputs)),
                            size=(32, 48), mode='bilinear', align_corners=False)
    expected_ce = -student.log_softmax(1)[:, 2].mean()
    assert losses['loss_pseudo'].item() == pytest.approx(expected_ce.item(), rel=1e-4)
    assert losses['loss_kd'].item() > 0
    losses['loss_pseudo'].backward()
    assert model.student.decode_head.conv_seg.weight.grad is not None
    assert all(p.grad is None for p in model.teacher.parameters())


def test_padding_is_ignored_and_source_loss_is_optional():
    torch.manual_seed(0)
    model = build(source_weight=0.5)
    model.eval()
    target = samples(1, 16, 48)  # image occupies the top half of the padded batch
    inputs = torch.randn(1, 3, 32, 48)
    with pytest.raises(ValueError, match='source_weight'):
        model.loss(inputs, target)
    batch_in = dict(source=torch.randn(1, 3, 32, 48), target=inputs)
    batch_samples = dict(source=samples(1, 32, 48), target=target)
    losses = model.loss(batch_in, batch_samples)
    assert 'src.decode.loss_ce' in losses and 'src.decode.acc_seg' in losses
    plain = build(source_weight=1.0)
    plain.load_state_dict(model.state_dict())
    plain.eval()
    full = plain.loss(batch_in, batch_samples)['src.decode.loss_ce']
    assert losses['src.decode.loss_ce'].item() == pytest.approx(0.5 * full.item())
    # KL over the valid (unpadded) half only
    with torch.no_grad():
        teacher = F.interpolate(model.teacher.decode_head(model.teacher.extract_feat(inputs)),
                                size=(32, 48), mode='bilinear')
        student = F.interpolate(model.student.decode_head(model.student.extract_feat(inputs)),
                                size=(32, 48), mode='bilinear')
    top = pixel_kl_divergence(student[..., :16, :], teacher[..., :16, :])
    assert losses['loss_kd'].item() == pytest.approx(top.item(), rel=1e-5)


# ---------------------------------------------------------- stage hand-off
@pytest.fixture
def stage_files(tmp_path):
    """A CPSL-like teacher checkpoint and a torchvision-named backbone file."""
    torch.manual_seed(1)
    cpsl_like = MODELS.build(copy.deepcopy(STUDENT))
    teacher_file = tmp_path / 'cpsl_iter_1.pth'
    torch.save({'state_dict': {f'student.{k}': v for k, v in cpsl_like.state_dict().items()},
                'meta': {}}, teacher_file)
    backbone = MODELS.build(copy.deepcopy(STUDENT['backbone']))
    student_state = dict(backbone.state_dict())
    student_state.update({'fc.weight': torch.zeros(5, 64), 'fc.bias': torch.zeros(5)})
    student_file = tmp_path / 'simclr.pth'
    torch.save(student_state, student_file)
    return dict(teacher=str(teacher_file), student=str(student_file),
                cpsl=cpsl_like, backbone=student_state)


def test_handoff_loads_exactly_the_named_files(stage_files):
    model = build(teacher_checkpoint=stage_files['teacher'],
                  student_checkpoint=stage_files['student'])
    model.init_weights()
    for key, value in stage_files['cpsl'].state_dict().items():
        torch.testing.assert_close(model.teacher.state_dict()[key], value, rtol=0, atol=0)
    for key, value in model.student.backbone.state_dict().items():
        torch.testing.assert_close(value, stage_files['backbone'][key], rtol=0, atol=0)


def test_missing_teacher_is_refused(stage_files, tmp_path):
    with pytest.raises(ValueError, match='model.teacher_checkpoint is not set'):
        build(student_checkpoint=stage_files['student']).init_weights()
    missing = str(tmp_path / 'no_such_cpsl.pth')
    with pytest.raises(FileNotFoundError, match='model.teacher_checkpoint.*no_such_cpsl'):
        build(teacher_checkpoint=missing).init_weights()


def test_missing_student_initialisation_is_refused(stage_files, tmp_path):
    missing = str(tmp_path / 'no_such_simclr.pth')
    with pytest.raises(FileNotFoundError, match='model.student_checkpoint.*no_such_simclr'):
        build(teacher_checkpoint=stage_files['teacher'],
              student_checkpoint=missing).init_weights()


def test_wrong_student_file_is_refused_with_counts(stage_files, tmp_path):
    # a deeper ResNet's file: more blocks than the student has
    deeper = MODELS.build(dict(STUDENT['backbone'], depth=34)).state_dict()
    path = tmp_path / 'resnet34.pth'
    torch.save(deeper, path)
    with pytest.raises(ValueError) as err:
        build(teacher_checkpoint=stage_files['teacher'],
              student_checkpoint=str(path)).init_weights()
    message = str(err.value)
    assert 'model.student_checkpoint' in message and 'resnet34.pth' in message
    assert 'refusing to start' in message
    assert 'unexpected' in message and 'loaded' in message
    # a wider one: every name matches, shapes do not
    wider = MODELS.build(dict(STUDENT['backbone'], base_channels=16)).state_dict()
    torch.save(wider, path)
    with pytest.raises(ValueError, match=r'shape mismatches [1-9]'):
        build(teacher_checkpoint=stage_files['teacher'],
              student_checkpoint=str(path)).init_weights()
    # a file with an extra head (e.g. a SimCLR projection head) unless ignored
    extra = dict(stage_files['backbone'], **{'g.0.weight': torch.zeros(4, 64)})
    torch.save(extra, path)
    with pytest.raises(ValueError, match=r"unexpected 1"):
        build(teacher_checkpoint=stage_files['teacher'],
              student_checkpoint=str(path)).init_weights()
    build(teacher_checkpoint=stage_files['teacher'], student_checkpoint=str(path),
          student_checkpoint_ignore=[r'^fc\.', r'^g\.']).init_weights()


def test_student_file_under_the_wrong_prefix_is_refused(stage_files):
    with pytest.raises(ValueError, match="model.student_checkpoint.*'encoder.'"):
        build(teacher_checkpoint=stage_files['teacher'],
              student_checkpoint=stage_files['student'],
              student_checkpoint_prefix='encoder.').init_weights()


def test_wrong_teacher_file_is_refused(stage_files, tmp_path):
    # a plain segmentor file read with the CPSL prefix
    plain = tmp_path / 'plain.pth'
    torch.save({'state_dict': stage_files['cpsl'].state_dict()}, plain)
    with pytest.raises(ValueError, match="model.teacher_checkpoint.*no tensor named 'student.'"):
        build(teacher_checkpoint=str(plain)).init_weights()
    build(teacher_checkpoint=str(plain), teacher_checkpoint_prefix='').init_weights()
    # a teacher for another number of classes
    other = MODELS.build(dict(copy.deepcopy(STUDENT), decode_head=dict(
        STUDENT['decode_head'], num_classes=NUM_CLASSES + 1)))
    torch.save({'state_dict': {f'student.{k}': v for k, v in other.state_dict().items()}},
               plain)
    with pytest.raises(ValueError, match='model.teacher_checkpoint.*shape mismatches'):
        build(teacher_checkpoint=str(plain)).init_weights()


def test_two_student_initialisations_are_refused(stage_files):
    student = copy.deepcopy(STUDENT)
    student['backbone']['init_cfg'] = dict(type='Pretrained',
                                           checkpoint='torchvision://resnet101')
    with pytest.raises(ValueError, match='keep exactly one'):
        MODELS.build(dict(type='CPSLDistill', student=student,
                          student_checkpoint=stage_files['student']))
