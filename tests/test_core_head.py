"""SelfLabelingHead (Eq. 4, 7) and PrototypeAccumulator (Eq. 7) on hand-made numbers."""
import math

import pytest
import torch

import cpsl_mmseg  # noqa: F401  (registers the head)
from cpsl_mmseg.models.decode_heads.self_labeling_head import SelfLabelingHead
from cpsl_mmseg.clustering.prototypes import PrototypeAccumulator
from mmseg.registry import MODELS


def test_built_from_the_registry_with_random_unit_prototypes():
    head = MODELS.build(dict(type='SelfLabelingHead', num_classes=5, feat_dim=8))
    assert isinstance(head, SelfLabelingHead)
    assert head.prototypes.shape == head.momentum_prototypes.shape == (5, 8)
    assert torch.allclose(head.prototypes.norm(dim=1), torch.ones(5))
    assert torch.equal(head.prototypes.data, head.momentum_prototypes)
    assert set(head.state_dict()) == {'prototypes', 'momentum_prototypes'}
    assert [name for name, _ in head.named_parameters()] == ['prototypes']


def test_cosine_scores_and_logits_hand_computed():
    head = SelfLabelingHead(num_classes=2, feat_dim=2, temperature=0.1)
    head.init_from_prototypes(torch.tensor([[2.0, 0.0], [0.0, 5.0]]))
    z = torch.tensor([[3.0, 4.0], [-1.0, 0.0]])
    assert torch.allclose(head.cosine_scores(z), torch.tensor([[0.6, 0.8], [-1.0, 0.0]]))
    assert torch.allclose(head(z), torch.tensor([[6.0, 8.0], [-10.0, 0.0]]))


def test_pixel_probabilities_use_the_momentum_copy():
    head = SelfLabelingHead(num_classes=2, feat_dim=2, temperature=0.5)
    head.init_from_prototypes(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    feat = torch.tensor([[3.0, 0.0], [4.0, 1.0]]).view(1, 2, 1, 2)  # pixels (3,4), (0,1)
    probs = head.pixel_probabilities(feat)
    first = torch.softmax(torch.tensor([0.6, 0.8]) / 0.5, dim=0)
    assert probs.shape == (1, 2, 1, 2)
    assert torch.allclose(probs[0, :, 0, 0], first)
    assert torch.allclose(probs[0, :, 0, 1], torch.softmax(torch.tensor([0.0, 2.0]), dim=0))
    with torch.no_grad():
        head.prototypes.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert torch.allclose(head.pixel_probabilities(feat), probs)  # momentum copy unchanged
    assert torch.allclose(head.pixel_probabilities(feat, use_momentum=False)[0, :, 0, 0],
                          first.flip(0))


def test_momentum_update_hand_computed():
    head = SelfLabelingHead(num_classes=1, feat_dim=2, momentum=0.1)
    head.init_from_prototypes(torch.tensor([[1.0, 0.0]]))
    with torch.no_grad():
        head.prototypes.copy_(torch.tensor([[0.0, 1.0]]))
    head.momentum_update()
    assert torch.allclose(head.momentum_prototypes, torch.tensor([[0.9, 0.1]]))
    head.momentum_update()
    assert torch.allclose(head.momentum_prototypes, torch.tensor([[0.81, 0.19]]))


def test_zero_norm_prototypes_stay_random_with_a_warning():
    torch.manual_seed(0)
    head = SelfLabelingHead(num_classes=3, feat_dim=2)
    random_row = head.prototypes.data[1].clone()
    with pytest.warns(UserWarning, match=r'classes \[1\]'):
        head.init_from_prototypes(torch.tensor([[0.0, 3.0], [0.0, 0.0], [-2.0, 0.0]]))
    assert torch.allclose(head.prototypes.data,
                          torch.stack([torch.tensor([0.0, 1.0]), random_row,
                                       torch.tensor([-1.0, 0.0])]))
    assert torch.equal(head.momentum_prototypes, head.prototypes.data)


def test_loss_gradient_reaches_only_the_prototypes():
    head = SelfLabelingHead(num_classes=3, feat_dim=4)
    z = torch.randn(6, 4)
    head(z).logsumexp(dim=1).sum().backward()
    assert head.prototypes.grad is not None and head.prototypes.grad.abs().sum() > 0
    assert not head.momentum_prototypes.requires_grad


def test_head_shape_errors():
    head = SelfLabelingHead(num_classes=3, feat_dim=4, temperature=0.08)
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        head(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r'\(B, 4, H, W\)'):
        head.pixel_probabilities(torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match=r'\(3, 4\)'):
        head.init_from_prototypes(torch.zeros(4, 3))
    with pytest.raises(ValueError, match='temperature'):
        SelfLabelingHead(3, 4, temperature=0.0)


def test_prototype_accumulator_eq7_hand_computed():
    acc = PrototypeAccumulator(num_classes=3, feat_dim=2)
    # Pixels (3,4) -> (0.6,0.8), (0,2) -> (0,1), (5,0) -> (1,0), (7,7) ignored.
    feats = torch.tensor([[3.0, 0.0, 5.0, 7.0], [4.0, 2.0, 0.0, 7.0]]).view(1, 2, 1, 4)
    labels = torch.tensor([[[0, 0, 1, 255]]])
    acc.update(feats, labels)
    acc.update(feats[:, :, :, :1], labels[:, :, :1])  # one more (0.6, 0.8) for class 0
    assert acc.counts.tolist() == [3, 1, 0]
    assert acc.sums.dtype == torch.float64
    expected = torch.tensor([[1.2 / 3, 2.6 / 3], [1.0, 0.0], [0.0, 0.0]])
    assert torch.allclose(acc.compute(), expected)
    acc.all_reduce()  # no process group: nothing changes
    assert torch.allclose(acc.compute(), expected)


def test_prototype_accumulator_rejects_mismatched_resolution():
    acc = PrototypeAccumulator(num_classes=3, feat_dim=2)
    with pytest.raises(ValueError, match=r'\(1, 2, 4, 4\).*\(1, 8, 8\)'):
        acc.update(torch.zeros(1, 2, 4, 4), torch.zeros(1, 8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match=r'\[0, 3\)'):
        acc.update(torch.ones(1, 2, 1, 1), torch.tensor([[[5]]]))


def test_head_from_accumulated_prototypes_classifies_its_own_clusters():
    acc = PrototypeAccumulator(num_classes=2, feat_dim=3)
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    labels = torch.randint(0, 2, (2, 5, 5), generator=gen)
    feats = centres[labels].permute(0, 3, 1, 2) + 0.1 * torch.randn(2, 3, 5, 5, generator=gen)
    acc.update(feats, labels)
    head = SelfLabelingHead(num_classes=2, feat_dim=3, temperature=0.08)
    head.init_from_prototypes(acc.compute())
    assert torch.equal(head.pixel_probabilities(feats).argmax(dim=1), labels)
    assert math.isclose(float(head.prototypes.norm(dim=1)[0]), 1.0, rel_tol=1e-6)
