"""The reference-code switches (docs/fidelity.md): each changes what it claims."""
import copy
import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import cpsl_mmseg  # noqa: F401
from cpsl_mmseg.clustering import distribution_aligned_sinkhorn
from cpsl_mmseg.datasets.transforms.lab_color_transfer import (LabColorTransfer,
                                                               lab_statistics)
from cpsl_mmseg.models.losses import BankContrastiveLoss
from cpsl_mmseg.models.utils.cutmix import half_area_batch_box
from cpsl_mmseg.models.utils.feature_capture import capture_pre_classifier_feature

CPSL_CFG = 'configs/smoke/cpsl_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'
C = 3


def build(repo_root, **overrides):
    init_default_scope('mmseg')
    model_cfg = copy.deepcopy(Config.fromfile(str(repo_root / CPSL_CFG)).model)
    model_cfg.update(overrides)
    model = MODELS.build(model_cfg)
    model.init_weights()
    dim = model.teacher.decode_head.conv_seg.in_channels
    model.initialize_statistics(torch.randn(dim * C).view(C, dim), torch.tensor([5., 3., 2.]))
    model.train()
    return model


def record_student_inputs(model):
    seen = []
    forward = model.student_forward

    def spy(image):
        seen.append(image.clone())
        return forward(image)

    model.student_forward = spy
    return seen


def test_target_loss_on_the_weak_view_and_consistency_on_the_strong_one(
        repo_root, paired_batch):
    inputs, samples = paired_batch()
    default = build(repo_root, cutmix_prob=0.0)
    seen = record_student_inputs(default)
    default.loss(inputs, samples)
    assert len(seen) == 1 and torch.equal(seen[0], inputs['target_strong'])

    weak = build(repo_root, cutmix_prob=0.0, target_loss_view='weak')
    seen = record_student_inputs(weak)
    losses = weak.loss(inputs, samples)
    assert len(seen) == 2  # L_tgt on the weak view, L_REG on a strong forward
    assert torch.equal(seen[0], inputs['target']) and torch.equal(
        seen[1], inputs['target_strong'])
    assert torch.isfinite(losses['loss_reg'])


def test_weak_view_target_loss_is_cutmixed_with_source(repo_root, paired_batch):
    inputs, samples = paired_batch()
    model = build(repo_root, cutmix_prob=1.0, target_loss_view='weak')
    seen = record_student_inputs(model)
    model.loss(inputs, samples)
    pasted = seen[0] == inputs['source']
    assert bool(pasted.any()) and bool((seen[0] == inputs['target']).any())
    assert bool((seen[0][~pasted] == inputs['target'][~pasted]).all())


def test_teacher_feature_after_dropout_in_train_mode_only(repo_root):
    model = build(repo_root, teacher_train_mode=True)
    head = model.teacher.decode_head
    head.dropout.p = 0.5
    image = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        with capture_pre_classifier_feature(head) as before:
            model.teacher._forward(image)
        with capture_pre_classifier_feature(head, after_dropout=True) as after:
            model.teacher._forward(image)
    # the same pre-dropout feature (the forward is deterministic apart from dropout);
    # after dropout about half of its non-zero channels are zeroed, the rest doubled
    live = before[0] != 0
    dropped = (after[0] == 0) & live
    assert 0.3 < float(dropped.sum() / live.sum()) < 0.7
    kept = live & ~dropped
    assert torch.allclose(after[0][kept], 2 * before[0][kept])
    model.teacher_feature = 'after_dropout'
    zeros_after = float((model.teacher_forward(image).features == 0).float().mean())
    model.teacher_feature = 'before_dropout'
    zeros_before = float((model.teacher_forward(image).features == 0).float().mean())
    # expected gain: half of the non-zero entries, about 0.25; Dropout2d draws one mask
    # per channel (2 x 32 draws here), so one run's gain spreads by about 0.03
    assert zeros_after > zeros_before + 0.1
    head.eval()
    with torch.no_grad():
        with capture_pre_classifier_feature(head) as before:
            head.cls_seg(torch.ones(1, head.channels, 2, 2))
        with capture_pre_classifier_feature(head, after_dropout=True) as after:
            head.cls_seg(torch.ones(1, head.channels, 2, 2))
    assert torch.equal(before[0], after[0])  # eval mode: no dropout


def test_half_area_batch_box_is_one_box_of_half_the_crop():
    gen = torch.Generator().manual_seed(0)
    boxes = [half_area_batch_box(4, 64, 128, 1.0, torch.device('cpu'), gen)
             for _ in range(50)]
    for masks in boxes:
        assert all(torch.equal(masks[0], m) for m in masks[1:])  # one box per batch
        assert abs(float(masks[0].float().mean()) - 0.5) < 0.03
    assert len({tuple(m[0].nonzero().min(0).values.tolist()) for m in boxes}) > 10
    never = half_area_batch_box(4, 64, 128, 0.0, torch.device('cpu'), gen)
    assert not bool(never.any())


def test_consistency_in_prototype_space_is_one_kl_on_momentum_head_logits(repo_root):
    model = build(repo_root, consistency_space='prototypes',
                  loss_consistency=dict(type='ConsistencyLoss', symmetric=False,
                                        loss_weight=1.0))
    from cpsl_mmseg.models.segmentors.step_outputs import StudentOutput, TeacherOutput
    gen = torch.Generator().manual_seed(1)
    dim = model.self_labeling_head.feat_dim
    student_z = torch.randn(1, dim, 2, 2, generator=gen)
    teacher_z = F.normalize(torch.randn(1, dim, 2, 2, generator=gen), dim=1)
    logits = torch.randn(1, C, 2, 2, generator=gen)
    loss = model.consistency_losses(StudentOutput(logits, student_z),
                                    TeacherOutput(teacher_z, logits),
                                    torch.zeros(1, 2, 2, dtype=torch.bool))['loss_reg']
    prototypes = F.normalize(model.self_labeling_head.momentum_prototypes, dim=1)
    expected = 0.0
    for i in range(2):
        for j in range(2):
            s = (F.normalize(student_z[0, :, i, j], dim=0) @ prototypes.t()) / 0.08
            t = (teacher_z[0, :, i, j] @ prototypes.t()) / 0.08
            p_t = t.softmax(0)
            expected += float((p_t * (p_t.log() - s.log_softmax(0))).sum()) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-4)


def test_second_self_labeling_loss_from_teacher_scores(repo_root, paired_batch):
    model = build(repo_root, self_labeling_from_scores=True)
    captured = {}
    sample = model.sample_features

    def spy(teacher, labels):
        captured['samples'] = sample(teacher, labels)
        return captured['samples']

    model.sample_features = spy
    losses = model.loss(*paired_batch())
    samples = captured['samples']
    assert torch.allclose(samples.scores.norm(dim=1), torch.ones(len(samples.scores)))
    assert torch.equal(model.score_bank.valid_features(), samples.scores)
    targets = distribution_aligned_sinkhorn(samples.scores, model.class_prior())
    logits = model.self_labeling_head(samples.features)
    expected = -(targets * logits.log_softmax(1)).sum(1).mean() * 0.1
    assert losses['loss_sl_scores'].item() == pytest.approx(expected.item(), rel=1e-4)


def test_sinkhorn_per_image_and_bank_only_once_full(repo_root, paired_batch):
    per_image = build(repo_root, sinkhorn_per_image=True, use_bank_before_full=False)
    batched = build(repo_root)
    per_image.load_state_dict(batched.state_dict())
    scores = torch.randn(10, C)
    image = torch.tensor([0] * 6 + [1] * 4)
    bank = torch.randn(5, C)
    prior = batched.class_prior()
    targets, _ = per_image.sinkhorn_targets(scores, bank, image)
    assert torch.allclose(targets[:6], distribution_aligned_sinkhorn(
        torch.cat([scores[:6], bank]), prior)[:6])
    assert torch.allclose(targets[6:], distribution_aligned_sinkhorn(
        torch.cat([scores[6:], bank]), prior)[:4])
    together, _ = batched.sinkhorn_targets(scores, bank, image)
    assert torch.allclose(together, distribution_aligned_sinkhorn(
        torch.cat([scores, bank]), prior)[:10])
    per_image.loss(*paired_batch())  # one batch in: the bank is not full yet
    assert 0 < per_image.memory_bank.num_filled < per_image.memory_bank.length
    assert per_image.bank_rows(per_image.memory_bank).shape[0] == 0
    assert batched.bank_rows(per_image.memory_bank).shape[0] > 0


def test_bank_contrast_matches_its_formula_and_trains_the_student(repo_root, paired_batch):
    anchors = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    bank = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    loss = BankContrastiveLoss(temperature=0.5, loss_weight=1.0)(
        anchors, torch.tensor([0, 1]), bank, torch.tensor([0, 0, 1]))
    s = (anchors @ bank.t()) / 0.5
    # anchor 0: positives rows 0, 1; negative row 2. anchor 1: positive row 2.
    a0 = [s[0, j] - torch.log(s[0, j].exp() + s[0, 2].exp()) for j in (0, 1)]
    a1 = s[1, 2] - torch.log(s[1, 2].exp() + s[1, 0].exp() + s[1, 1].exp())
    expected = (-(a0[0] + a0[1]) / (2 + 1e-5) - a1 / (1 + 1e-5)) / 2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)

    model = build(repo_root, loss_bank_contrast=dict(type='BankContrastiveLoss'))
    inputs, samples = paired_batch()
    model.loss(inputs, samples)
    model.momentum_update()
    losses = model.loss(inputs, samples)  # the bank holds the first batch now
    assert losses['loss_contrast'].item() > 0
    losses['loss_contrast'].backward()
    assert model.student.decode_head.conv_seg.weight.grad is None  # Z, not logits
    assert model.student.backbone.stem[0].weight.grad.abs().sum() > 0


def test_lab_color_transfer_moves_the_statistics_to_a_reference_image(tmp_path):
    rng = np.random.default_rng(0)
    reference = (rng.random((32, 48, 3)) * 80 + 120).astype(np.uint8)  # bright, grey-ish
    cv2.imwrite(str(tmp_path / 'ref.png'), reference)
    transform = LabColorTransfer(reference_dir=str(tmp_path))
    source = (rng.random((40, 40, 3)) * 60).astype(np.uint8)  # dark
    out = transform(dict(img=source.copy()))['img']
    mean, std = lab_statistics(out)
    ref_mean, ref_std = lab_statistics(reference)
    assert np.allclose(mean, ref_mean, atol=1.5) and np.allclose(std, ref_std, rtol=0.1)
    with pytest.raises(FileNotFoundError, match='reference_dir'):
        LabColorTransfer(reference_dir=str(tmp_path / 'missing'))


def test_reverse_ce_constant_is_the_reference_one():
    from cpsl_mmseg.models.losses.rectified_pseudo_label_loss import LOG_ZERO
    assert LOG_ZERO == pytest.approx(math.log(1e-4))


def test_full_image_teacher_reads_the_whole_image_at_the_crop(repo_root):
    """FullImageView + crop + flip: the packed crop is the full image read at its
    coordinates; with an identity pipeline the full-image teacher equals the weak-view
    teacher; with a crop it is the full-image output read at the crop's cells."""
    from mmcv.transforms import Compose
    from mmengine.registry import init_default_scope

    from cpsl_mmseg.models.utils.crop_mapping import crop_from_full
    init_default_scope('mmseg')
    image = np.random.default_rng(0).integers(0, 255, (32, 64, 3), dtype=np.uint8)
    pipeline = Compose([dict(type='FullImageView'),
                        dict(type='RandomCrop', crop_size=(16, 24)),
                        dict(type='RandomFlip', prob=1.0),
                        dict(type='PackUDATargetInputs')])
    packed = pipeline(dict(img=image, img_path='x.png', img_shape=image.shape[:2],
                           ori_shape=image.shape[:2], seg_fields=[]))
    coords = packed['data_samples'].full_image_coords.data  # (2, 16, 24)
    cols = (coords[0] * 64 - 0.5).round().long()
    rows = (coords[1] * 32 - 0.5).round().long()
    crop = packed['inputs'].permute(1, 2, 0)
    assert torch.equal(crop, torch.from_numpy(image)[rows, cols])
    assert packed['inputs_full'].shape == (3, 32, 64)

    model = build(repo_root, teacher_input='full_image')
    full = torch.randn(2, 3, 64, 64)
    identity = torch.stack(torch.meshgrid(
        (torch.arange(64) + 0.5) / 64, (torch.arange(64) + 0.5) / 64, indexing='xy'))
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = [SegDataSample() for _ in range(2)]
    for sample in samples:
        sample.full_image_coords = PixelData(data=identity)
    mapped = model.teacher_on_target(dict(target=full, target_full=full), samples)
    direct = model.teacher_forward(full)
    assert torch.allclose(mapped.logits, direct.logits, atol=1e-5)
    assert torch.allclose(mapped.features, direct.features, atol=1e-5)
    crop = identity[:, 16:48, 8:40]  # a 32x32 crop of the full image
    for sample in samples:
        sample.full_image_coords = PixelData(data=crop)
    mapped = model.teacher_on_target(dict(target=full[..., 16:48, 8:40], target_full=full),
                                     samples)
    expected = crop_from_full(direct.logits, crop[None].expand(2, -1, -1, -1),
                              mapped.logits.shape[-2:])
    assert torch.allclose(mapped.logits, expected)
    assert mapped.logits.shape[-2:] == (direct.logits.shape[-2] // 2, ) * 2
    with pytest.raises(KeyError, match='FullImageView'):
        model.teacher_on_target(dict(target=full), samples)
