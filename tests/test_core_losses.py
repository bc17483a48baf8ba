"""SelfLabelingLoss (Eq. 5), RectifiedPseudoLabelLoss (Eq. 2, symmetric CE option) and
ConsistencyLoss (Eq. 13) on hand-computed examples, including all-ignore batches."""
import math

import pytest
import torch

import cpsl_mmseg  # noqa: F401  (registers the losses)
from cpsl_mmseg.models.losses.consistency_loss import ConsistencyLoss
from cpsl_mmseg.models.losses.rectified_pseudo_label_loss import RectifiedPseudoLabelLoss
from cpsl_mmseg.models.losses.self_labeling_loss import SelfLabelingLoss
from mmseg.registry import MODELS


@pytest.mark.parametrize('cfg,cls,name', [
    (dict(type='SelfLabelingLoss'), SelfLabelingLoss, 'loss_sl'),
    (dict(type='RectifiedPseudoLabelLoss'), RectifiedPseudoLabelLoss, 'loss_tgt'),
    (dict(type='ConsistencyLoss'), ConsistencyLoss, 'loss_reg'),
    (dict(type='ConsistencyLoss', loss_name='loss_cons'), ConsistencyLoss, 'loss_cons'),
])
def test_registered_with_loss_names(cfg, cls, name):
    loss = MODELS.build(cfg)
    assert isinstance(loss, cls) and loss.loss_name == name


def test_self_labeling_loss_hand_computed():
    # softmax([0, ln 3]) = [1/4, 3/4]; q = [1/2, 1/2] -> -(ln(1/4) + ln(3/4)) / 2
    logits = torch.tensor([[0.0, math.log(3.0)], [5.0, -5.0]], requires_grad=True)
    q = torch.tensor([[0.5, 0.5], [1.0, 0.0]], requires_grad=True)
    valid = torch.tensor([True, False])
    loss = SelfLabelingLoss(loss_weight=2.0)(logits, q, valid)
    expected = 2.0 * -(math.log(0.25) + math.log(0.75)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert q.grad is None  # targets are constants
    assert torch.equal(logits.grad[1], torch.zeros(2))  # invalid row does not count
    both = SelfLabelingLoss()(logits, q)
    second = -math.log(torch.softmax(torch.tensor([5.0, -5.0]), 0)[0].item())
    assert both.item() == pytest.approx((expected / 2 + second) / 2, rel=1e-5)


def test_rectified_pseudo_label_loss_ce_and_symmetric_ce():
    # Two pixels: logits [ln 3, 0] -> p = [3/4, 1/4] labelled 0; the second is ignored.
    logits = torch.tensor([[math.log(3.0), 7.0], [0.0, -7.0]]).view(1, 2, 1, 2)
    labels = torch.tensor([[[0, 255]]])
    ce = RectifiedPseudoLabelLoss()(logits, labels)
    assert ce.item() == pytest.approx(-math.log(0.75), rel=1e-6)
    sce = RectifiedPseudoLabelLoss(ce_weight=0.1, rce_weight=1.0, loss_weight=0.5)
    # reverse CE = -sum_c p_c log y_c with y clamped at 1e-4 (reference code):
    # -log(1e-4) * p_1 = 9.2103 * 1/4
    rce = -math.log(1e-4) * 0.25
    assert sce(logits, labels).item() == pytest.approx(
        0.5 * (0.1 * -math.log(0.75) + rce), rel=1e-6)


def test_reverse_ce_equals_the_reference_formula_on_random_pixels():
    # The reference: softmax clamped at 1e-7, one-hot label clamped at 1e-4, then
    # -sum_c p_c log y_c averaged over non-ignore pixels (written out independently).
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 3, 5, generator=gen)
    labels = torch.randint(0, 4, (2, 3, 5), generator=gen)
    labels[1, 2] = 255
    valid = labels != 255
    prob = logits.softmax(1).clamp(min=1e-7)
    one_hot = torch.nn.functional.one_hot(labels.clamp(max=3), 4).permute(0, 3, 1, 2)
    reference = -(prob * one_hot.float().clamp(min=1e-4).log()).sum(1)[valid].mean()
    ours = RectifiedPseudoLabelLoss(ce_weight=0.0, rce_weight=1.0)(logits, labels)
    assert ours.item() == pytest.approx(reference.item(), rel=1e-5)


def test_rectified_pseudo_label_loss_matches_torch_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 3, 4, generator=gen)
    labels = torch.randint(0, 5, (2, 3, 4), generator=gen)
    labels[0, 0] = 255
    expected = torch.nn.functional.cross_entropy(logits, labels, ignore_index=255)
    assert torch.allclose(RectifiedPseudoLabelLoss()(logits, labels), expected)
    with pytest.raises(ValueError, match=r'\(2, 5, 3, 4\).*\(2, 6, 8\)'):
        RectifiedPseudoLabelLoss()(logits, torch.zeros(2, 6, 8, dtype=torch.long))


def kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q))


def test_consistency_loss_hand_computed():
    # teacher p_w = [1/2, 1/2], student p_s = [1/4, 3/4] at pixel 0; pixel 1 masked out.
    student = torch.tensor([[0.0, 2.0], [math.log(3.0), -2.0]]).view(1, 2, 1, 2)
    student.requires_grad_()
    teacher = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).view(1, 2, 1, 2).requires_grad_()
    mask = torch.tensor([[[True, False]]])
    p_w, p_s = [0.5, 0.5], [0.25, 0.75]
    sym = ConsistencyLoss(loss_weight=5.0)(student, teacher, mask)
    assert sym.item() == pytest.approx(5.0 * (kl(p_w, p_s) + kl(p_s, p_w)), rel=1e-5)
    one_way = ConsistencyLoss(symmetric=False)(student, teacher, mask)
    assert one_way.item() == pytest.approx(kl(p_w, p_s), rel=1e-5)
    sym.backward()
    assert teacher.grad is None
    assert torch.equal(student.grad[0, :, 0, 1], torch.zeros(2))


def test_consistency_loss_is_zero_for_identical_outputs_and_averages_pixels():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 3, 3, generator=gen)
    assert ConsistencyLoss()(logits, logits.clone()).item() == pytest.approx(0.0, abs=1e-6)
    other = torch.randn(2, 4, 3, 3, generator=gen)
    per_pixel = (torch.softmax(other, 1) * (torch.log_softmax(other, 1)
                                             - torch.log_softmax(logits, 1))).sum(1)
    one_way = ConsistencyLoss(symmetric=False)(logits, other)
    assert one_way.item() == pytest.approx(per_pixel.mean().item(), rel=1e-5)


@pytest.mark.parametrize('make', [
    lambda x: SelfLabelingLoss()(x.view(-1, 3), torch.full((8, 3), 1 / 3),
                                 torch.zeros(8, dtype=torch.bool)),
    lambda x: RectifiedPseudoLabelLoss(rce_weight=1.0)(x, torch.full((2, 2, 2), 255)),
    lambda x: ConsistencyLoss()(x, x.detach() + 1, torch.zeros(2, 2, 2, dtype=torch.bool)),
])
def test_all_ignored_gives_zero_with_a_graph(make):
    logits = torch.randn(2, 3, 2, 2, requires_grad=True)
    loss = make(logits)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.isfinite(logits.grad).all() and torch.all(logits.grad == 0)
