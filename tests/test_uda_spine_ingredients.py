"""The DAFormer / MIC ingredients of the mean teacher (and so of CPSL), each at the
smallest size that shows its mechanics: ClassMix pastes whole classes, the quality
weight is the confident share, the EMA ramp-up follows min(1 - 1/(t+1), alpha) across
a resume, MIC masks have their block size and ratio, and the feature distance acts
on thing-class cells only."""
import copy
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import cpsl_mmseg  # noqa: F401
from cpsl_mmseg.models.utils.classmix import class_mix_masks
from cpsl_mmseg.models.utils.color_augmentation import ColorJitterBlur, odd_kernel_size
from cpsl_mmseg.models.utils.cutmix import random_box_masks
from cpsl_mmseg.models.utils.ema import rampup_momentum
from cpsl_mmseg.models.utils.feature_distance import ImageNetFeatureDistance, pooled_labels
from cpsl_mmseg.models.utils.masking import BlockMasking, random_block_mask
from cpsl_mmseg.models.utils.quality_weight import PseudoLabelQualityWeight

MEAN_TEACHER = 'configs/smoke/mean-teacher_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'
CPSL = 'configs/smoke/cpsl_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'
EVERYTHING = ('configs/smoke/cpsl-all-ingredients_fcn_efficientnet-lite0_2xb2-20it_'
              'smoke-64x64.py')
IGNORE = 255


def build(repo_root, config=MEAN_TEACHER, **overrides):
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(repo_root / config))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.update(overrides)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model.train()


def labels_with_ignore(seed=0, batch=3, size=24, classes=7):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (batch, size, size), generator=g)
    labels[:, :, :3] = IGNORE
    labels[1][labels[1] == 2] = 0  # image 1 lacks class 2
    return labels


# ----------------------------------------------------------------- ClassMix
@pytest.mark.parametrize('pool', ['image', 'batch'])
def test_classmix_masks_hold_whole_classes(pool):
    labels = labels_with_ignore()
    torch.manual_seed(0)
    masks = class_mix_masks(labels, IGNORE, pool)
    batch_classes = set(labels.unique().tolist()) - {IGNORE}
    for label, mask in zip(labels, masks):
        pasted = set(label[mask].tolist())
        assert IGNORE not in pasted
        for c in pasted:  # every pixel of a pasted class is pasted
            assert bool(mask[label == c].all()), c
        assert not bool(mask[~torch.isin(label, torch.tensor(sorted(pasted)))].any())
        own = set(label.unique().tolist()) - {IGNORE}
        if pool == 'image':  # half of its own classes, rounded up
            assert len(pasted) == (len(own) + 1) // 2
        else:
            assert pasted <= batch_classes


def test_classmix_pastes_source_labels_and_pixels_in_the_segmentor(repo_root, paired_batch):
    model = build(repo_root, mix='classmix')
    inputs, samples = paired_batch()
    target_labels = torch.full((2, 64, 64), 7)
    mixed = model.mix_with_source(inputs['target'], target_labels, inputs['source'],
                                  samples['source'])
    source_labels = torch.stack([s.gt_sem_seg.data[0] for s in samples['source']])
    assert bool(mixed.pasted.any()) and not bool(mixed.pasted.all())
    assert torch.equal(mixed.labels[mixed.pasted], source_labels[mixed.pasted])
    assert bool((mixed.labels[~mixed.pasted] == 7).all())
    pasted = mixed.pasted[:, None].expand_as(inputs['source'])
    assert torch.equal(mixed.image[pasted], inputs['source'][pasted])
    assert torch.equal(mixed.image[~pasted], inputs['target'][~pasted])
    for label, mask in zip(source_labels, mixed.pasted):  # whole classes
        for c in label[mask].unique():
            assert bool(mask[label == c].all())


def test_default_mix_draws_exactly_the_cutmix_boxes_of_before(repo_root, paired_batch):
    """Options off: the same random draws as CutMix alone (no extra draw anywhere)."""
    model = build(repo_root)
    inputs, samples = paired_batch()
    torch.manual_seed(3)
    mixed = model.mix_with_source(inputs['target'], torch.zeros(2, 64, 64).long(),
                                  inputs['source'], samples['source'])
    after = torch.rand(1)
    torch.manual_seed(3)
    boxes = random_box_masks(2, 64, 64, prob=model.cutmix_prob, device='cpu')
    assert torch.equal(mixed.pasted, boxes) and torch.equal(after, torch.rand(1))


def test_mix_augmentation_jitters_and_blurs_in_pixel_space():
    images = torch.rand(4, 3, 20, 30) * 4 - 2
    keep = ColorJitterBlur([120.] * 3, [60.] * 3, color_jitter_prob=0.0, blur_prob=0.0)
    torch.testing.assert_close(keep(images), images.clamp(-2, 135 / 60))
    changed = ColorJitterBlur([120.] * 3, [60.] * 3, color_jitter_prob=1.0, blur_prob=1.0)
    out = changed(images)
    assert out.shape == images.shape and bool(torch.isfinite(out).all())
    assert not torch.allclose(out, images.clamp(-2, 135 / 60))
    flat = torch.ones(1, 3, 20, 30) * 0.5  # blur and grey-preserving jitter keep flat grey
    assert float((ColorJitterBlur([0.] * 3, [255.] * 3, color_jitter_strength=0.0,
                                  blur_prob=1.0)(flat) - 0.5).abs().max()) < 1e-5
    assert [odd_kernel_size(s, 0.1) for s in (512, 64, 128, 10)] == [51, 7, 13, 1]
    with pytest.raises(ValueError, match='model.mix_augmentation.blur_prob'):
        ColorJitterBlur([0.] * 3, [1.] * 3, blur_prob=2, config_key='model.mix_augmentation')


# ------------------------------------------------------- quality weighting
def test_quality_weight_is_the_confident_share():
    g = torch.Generator().manual_seed(0)
    confidence = torch.rand(3, 10, 12, generator=g)
    valid = torch.ones(3, 10, 12, dtype=torch.bool)
    valid[1, :, 8:] = False  # padding
    weight = PseudoLabelQualityWeight(threshold=0.6)(confidence, valid)
    for i in range(3):
        share = ((confidence[i] >= 0.6) & valid[i]).sum() / valid[i].sum()
        assert torch.allclose(weight[i], share.expand(10, 12))
    batch = PseudoLabelQualityWeight(threshold=0.6, per='batch')(confidence, valid)
    assert torch.allclose(batch, ((confidence >= 0.6) & valid).sum() / valid.sum())
    rows = PseudoLabelQualityWeight(0.6, ignore_top=2, ignore_bottom=3)(confidence, valid)
    assert bool((rows[:, :2] == 0).all()) and bool((rows[:, -3:] == 0).all())
    assert torch.equal(rows[:, 2:-3], weight[:, 2:-3])
    with pytest.raises(ValueError, match='model.pseudo_label_weighting.per'):
        PseudoLabelQualityWeight(per='pixel')


def test_target_loss_is_weighted_by_the_share_and_pasted_pixels_by_one(
        repo_root, paired_batch):
    model = build(repo_root, pseudo_label_weighting=dict(threshold=0.5), cutmix_prob=1.0)
    seen = {}
    loss_forward, mix = model.loss_target.forward, model.mix_with_source
    model.loss_target.forward = lambda logits, labels, weight=None: seen.update(
        weight=weight) or loss_forward(logits, labels, weight=weight)
    model.mix_with_source = lambda *args: seen.setdefault('mixed', mix(*args))
    inputs, samples = paired_batch()
    teacher = model.teacher_forward(inputs['target'])
    padding = model.padding_mask(inputs['target'], samples['target'])
    pseudo = model.pseudo_labels(inputs['target'], samples['target'], teacher, padding)
    torch.testing.assert_close(pseudo.confidence, pseudo.p_st.max(1).values)
    threshold = model.quality_weight.threshold = float(pseudo.confidence.median())
    share = (pseudo.confidence >= threshold).flatten(1).float().mean(1)
    model.loss(inputs, samples)
    assert 0 < float(share.min()) and float(share.max()) < 1
    pasted = seen['mixed'].pasted
    assert bool(pasted.any())
    expected = torch.where(pasted, torch.ones(()), share[:, None, None].expand(2, 64, 64))
    torch.testing.assert_close(seen['weight'], expected)


def test_a_pseudo_label_step_returning_the_old_pair_still_trains(repo_root, paired_batch):
    """Deprecation path of the stable step: (P_ST, Y^) is taken, max P_ST its confidence."""
    model = build(repo_root, pseudo_label_weighting=dict(threshold=0.5))
    step = model.pseudo_labels
    model.pseudo_labels = lambda *args: tuple(step(*args)[:2])
    with pytest.warns(DeprecationWarning, match='PseudoLabels'):
        losses = model.loss(*paired_batch())
    assert torch.isfinite(losses['tgt.loss_tgt'])


def test_cpsl_confidence_is_the_normalised_product(repo_root, paired_batch):
    model = build(repo_root, CPSL)
    dim = model.teacher.decode_head.conv_seg.in_channels
    model.initialize_statistics(torch.randn(3, dim), torch.tensor([5., 3., 2.]))
    inputs, samples = paired_batch()
    teacher = model.teacher_forward(inputs['target'])
    padding = model.padding_mask(inputs['target'], samples['target'])
    pseudo = model.pseudo_labels(inputs['target'], samples['target'], teacher, padding)
    p_sl = model.self_labeling_probabilities(teacher.features, (64, 64))
    product = p_sl * pseudo.p_st
    torch.testing.assert_close(pseudo.confidence, product.max(1).values / product.sum(1))
    assert torch.equal(pseudo.labels, product.argmax(1))


# ------------------------------------------------------------ EMA ramp-up
def test_ema_rampup_follows_the_daformer_decay_and_survives_a_resume(repo_root):
    assert [rampup_momentum(t, 0.01) for t in (1, 3, 99, 100, 500)] == pytest.approx(
        [1 / 2, 1 / 4, 1 / 100, 1 / 100, 1 / 100])
    model = build(repo_root, teacher_momentum=0.01, teacher_momentum_rampup=True)
    param = 'decode_head.conv_seg.bias'
    expected = model.teacher.state_dict()[param].clone()

    def step(m, t):
        with torch.no_grad():
            m.student.decode_head.conv_seg.bias.fill_(float(t))
        m.momentum_update()
        decay = min(1 - 1 / (t + 1), 0.99)
        return decay * expected + (1 - decay) * float(t)

    for t in range(1, 4):
        expected = step(model, t)
        torch.testing.assert_close(model.teacher.state_dict()[param], expected)
    resumed = build(repo_root, teacher_momentum=0.01, teacher_momentum_rampup=True)
    resumed.load_state_dict(model.state_dict())
    assert int(resumed.teacher_updates) == 3
    expected = step(resumed, 4)
    torch.testing.assert_close(resumed.teacher.state_dict()[param], expected)
    assert 'teacher_updates' not in build(repo_root).state_dict()  # off: no new state


# -------------------------------------------------------------------- MIC
@pytest.mark.parametrize('height, width, block', [(64, 64, 8), (36, 52, 16)])
def test_mic_masks_have_the_block_size_and_ratio(height, width, block):
    torch.manual_seed(0)
    hidden = random_block_mask(200, height, width, block, 0.7, 'cpu')
    rows, cols = -(-height // block), -(-width // block)
    blocks = hidden[:, ::block, ::block]
    assert blocks.shape[1:] == (rows, cols)
    expanded = blocks.repeat_interleave(block, 1).repeat_interleave(block, 2)
    assert torch.equal(hidden, expanded[:, :height, :width])  # constant blocks
    share, n = float(blocks.float().mean()), blocks.numel()
    assert abs(share - 0.7) < 4 * (0.7 * 0.3 / n) ** 0.5
    images = torch.randn(200, 3, height, width)
    torch.manual_seed(0)
    masked = BlockMasking(block, 0.7)(images)
    assert torch.equal(masked, images.masked_fill(hidden[:, None], 0.0))


def test_mic_student_learns_the_pseudo_labels_on_the_masked_weak_view(
        repo_root, paired_batch):
    model = build(repo_root, masked_consistency=dict(block_size=16, mask_ratio=0.5,
                                                     loss_weight=0.5))
    seen = []
    forward = model.student._forward
    model.student._forward = lambda image, *a: seen.append(image) or forward(image, *a)
    inputs, samples = paired_batch()
    losses = model.loss(inputs, samples)
    assert torch.isfinite(losses['masked.loss_tgt'])
    masked = seen[-1]  # the last student forward is MIC's
    hidden = (masked == 0).all(1)
    assert bool(hidden.any()) and not bool(hidden.all())
    assert torch.equal(masked[~hidden[:, None].expand_as(masked)],
                       inputs['target'][~hidden[:, None].expand_as(masked)])
    losses['masked.loss_tgt'].backward()
    assert model.student.decode_head.conv_seg.weight.grad.abs().sum() > 0


# --------------------------------------------------------- feature distance
def test_pooled_labels_keep_a_cell_at_the_min_ratio():
    labels = torch.zeros(1, 4, 8, dtype=torch.long)
    labels[0, :, :4] = 1
    labels[0, :, 4:] = 2
    labels[0, :1, :4] = 0  # left cell: class 1 on 75 %
    labels[0, :2, 4:] = 255  # right cell: class 2 on 50 %, ignore on 50 %
    cells = pooled_labels(labels, (1, 2), num_classes=3, ignore_index=255, min_ratio=0.75)
    assert cells.tolist() == [[[1, 255]]]
    assert pooled_labels(labels, (1, 2), 3, 255, 0.8).tolist() == [[[255, 255]]]


def test_feature_distance_acts_on_thing_class_cells_only():
    segmentor = dict(backbone=dict(type='EfficientNetLite0', pretrained=True,
                                   out_indices=(1, 2), output_stride=8))
    distance = ImageNetFeatureDistance(segmentor, num_classes=4, ignore_index=IGNORE,
                                       classes=[2, 3], loss_weight=0.5)
    distance.init_weights()
    distance.train()
    assert not distance.backbone.training
    images = torch.randn(2, 3, 32, 32)
    labels = torch.zeros(2, 32, 32, dtype=torch.long)
    labels[0, :8, :16] = 3  # two 8x8 cells of a thing class in image 0
    student = torch.randn(2, 40, 4, 4, requires_grad=True)
    loss = distance(student, images, labels)
    loss.backward()
    thing = torch.zeros(2, 4, 4, dtype=torch.bool)
    thing[0, 0, :2] = True
    grad_norm = student.grad.norm(dim=1)
    assert bool((grad_norm[~thing] == 0).all()) and bool((grad_norm[thing] > 0).all())
    imagenet = distance.backbone(images)[-1]
    expected = 0.5 * (student - imagenet).norm(dim=1)[thing].mean()
    torch.testing.assert_close(loss, expected)
    none = torch.randn(2, 40, 4, 4, requires_grad=True)
    zero = distance(none, images, torch.ones(2, 32, 32, dtype=torch.long))
    zero.backward()
    assert float(zero) == 0 and bool((none.grad == 0).all())


def test_feature_distance_needs_pretrained_weights_and_keeps_them(repo_root, tmp_path,
                                                                  paired_batch):
    with pytest.raises(ValueError, match=r'model\.feature_distance.*pretrained'):
        build(repo_root, feature_distance=dict(classes=[1, 2]))
    with pytest.raises(ValueError, match=r'model\.feature_distance\.classes'):
        build(repo_root, feature_distance=dict(classes=[5]))
    init_default_scope('mmseg')
    backbone_cfg = Config.fromfile(str(repo_root / MEAN_TEACHER)).model.segmentor.backbone
    imagenet = MODELS.build(backbone_cfg).state_dict()
    torch.save(imagenet, tmp_path / 'imagenet.pth')
    model = build(repo_root, feature_distance=dict(  # random labels: low majority share
        classes=[1, 2], scale_min_ratio=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'imagenet.pth'))))
    frozen = model.feature_distance.backbone.state_dict()
    assert all(torch.equal(frozen[k], v) for k, v in imagenet.items())
    assert not any(p.requires_grad for p in model.feature_distance.parameters())
    losses = model.loss(*paired_batch())
    assert 'src.loss_feature_distance' in losses
    assert float(losses['src.loss_feature_distance']) > 0


# ------------------------------------------------------- all of them at once
def test_cpsl_with_every_ingredient_trains_and_resumes_exactly(tmp_path, smoke_uda_data,
                                                               uda_options, run_tool):
    """tools/train.py on the smoke config with every ingredient on: 4 iterations
    (every loss finite, the EMA ramp counted), and a run resumed from iteration 2
    that ends with exactly the same state (ramp counter included)."""
    options = [*uda_options(smoke_uda_data, EVERYTHING), 'train_cfg.max_iters=4',
               'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=2',
               'default_hooks.logger.interval=1']
    whole, resumed = tmp_path / 'whole', tmp_path / 'resumed'
    proc = run_tool(['python', 'tools/train.py', EVERYTHING, '--work-dir', whole,
                     '--cfg-options', *options])
    assert 'rare class sampling: P(class) =' in proc.stdout + proc.stderr
    run_tool(['python', 'tools/train.py', EVERYTHING, '--work-dir', resumed,
              '--resume', whole / 'iter_2.pth', '--cfg-options', *options])
    log = next(whole.glob('*/vis_data/scalars.json')).read_text().splitlines()
    records = [r for r in map(json.loads, log) if "loss" in r]
    for key in ('src.decode.loss_ce', 'src.loss_feature_distance', 'tgt.loss_tgt',
                'masked.loss_tgt', 'loss_sl', 'loss_reg'):
        values = [r[key] for r in records if key in r]
        assert len(values) == 4 and all(abs(v) < 1e6 for v in values), (key, values)
    assert records[0]['lr'] < 1e-3 * records[-1]['lr']  # the linear warm-up
    state = torch.load(whole / 'iter_4.pth', weights_only=False)['state_dict']
    assert int(state['teacher_updates']) == 4
    again = torch.load(resumed / 'iter_4.pth', weights_only=False)['state_dict']
    assert state.keys() == again.keys()
    for key, value in state.items():
        assert torch.equal(value, again[key]), key
