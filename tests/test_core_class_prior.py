"""ClassPrior: Eq. 10 initialisation, Eq. 11 moving average, fixed and uniform modes.

The two-process all-reduce check lives in test_core_distributed.py.
"""
import pytest
import torch

from cpsl_mmseg.clustering.class_prior import ClassPrior


def test_mode_is_validated_with_the_config_key():
    with pytest.raises(ValueError, match=r"class_prior\.mode.*'average'"):
        ClassPrior(3, mode='average')
    with pytest.raises(ValueError, match=r'class_prior\.decay'):
        ClassPrior(3, decay=1.5)


def test_uninitialised_prior_is_uniform():
    prior = ClassPrior(4)
    assert torch.allclose(prior(), torch.full((4, ), 0.25))
    assert not bool(prior.initialized)


def test_initialize_normalises_counts_eq10():
    prior = ClassPrior(3)
    prior.initialize(torch.tensor([6, 3, 1]))
    assert bool(prior.initialized)
    assert torch.allclose(prior.get(), torch.tensor([0.6, 0.3, 0.1]))
    assert prior.get().dtype == torch.float32
    with pytest.raises(ValueError, match='not all zero'):
        prior.initialize(torch.zeros(3))
    with pytest.raises(ValueError, match=r'\(3,\)'):
        prior.initialize(torch.ones(4))


def test_moving_average_update_eq11_hand_computed():
    prior = ClassPrior(2, mode='moving_average', decay=0.9)
    prior.initialize(torch.tensor([1.0, 1.0]))
    # The all-zero row (an all-ignore image) is skipped: mean of the others is [0.75, 0.25].
    prior.update(torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.5, 0.5]]))
    assert torch.allclose(prior(), torch.tensor([0.525, 0.475]))
    prior.update(torch.zeros(2, 2))  # nothing to learn from
    assert torch.allclose(prior(), torch.tensor([0.525, 0.475]))
    with pytest.raises(ValueError, match=r'\(B, 2\)'):
        prior.update(torch.zeros(2, 3))


def test_update_keeps_a_probability_vector():
    prior = ClassPrior(5, decay=0.5)
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        prior.update(torch.rand(4, 5, generator=gen))
        assert prior().sum().item() == pytest.approx(1.0, abs=1e-6)
        assert bool((prior() >= 0).all())


def test_fixed_mode_never_moves_after_initialisation():
    prior = ClassPrior(2, mode='fixed', decay=0.0)
    prior.initialize(torch.tensor([3, 1]))
    prior.update(torch.tensor([[0.0, 1.0]]))
    assert torch.allclose(prior(), torch.tensor([0.75, 0.25]))


def test_uniform_mode_ignores_counts_and_updates():
    prior = ClassPrior(4, mode='uniform', decay=0.0)
    prior.initialize(torch.tensor([10, 0, 0, 1]))
    prior.update(torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    assert torch.allclose(prior(), torch.full((4, ), 0.25))
    assert bool(prior.initialized)


def test_state_dict_round_trip_and_returned_copy():
    prior = ClassPrior(3, decay=0.8)
    prior.initialize(torch.tensor([1, 2, 7]))
    prior.update(torch.tensor([[0.2, 0.3, 0.5]]))
    restored = ClassPrior(3, decay=0.8)
    restored.load_state_dict(prior.state_dict())
    assert torch.equal(restored.prior, prior.prior) and bool(restored.initialized)
    out = restored()
    out.zero_()
    assert restored().sum().item() == pytest.approx(1.0)
