"""Distribution-aligned Sinkhorn (Eq. 6, 12) against POT, a float64 reference loop,
its marginals, and stress cases (tiny epsilon, half precision, 200k rows, zero priors).

Mapping to POT's ``ot.sinkhorn(a, b, M, reg)``, which returns the plan
``P = diag(u) exp(-M / reg) diag(v)`` with ``P 1 = a`` and ``P^T 1 = b``:
our (N, C) output Q has rows summing to 1 and columns summing to N * prior, so with
    a = ones(N) / N      (sample marginal h of Eq. 12, one row per sample)
    b = class_prior      (class marginal r of Eq. 12)
    M = -scores          (so exp(-M / reg) = exp(scores / epsilon), the Eq. 6 kernel)
    reg = epsilon
the two agree as Q = N * P. POT starts from u = 1/N and alternates v = b / K^T u,
u = a / K v, which is the iteration of the reference algorithm (class rescaling,
then sample rescaling), so even a fixed small number of iterations matches.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ot
from cpsl_mmseg.clustering import sinkhorn as sinkhorn_module
from cpsl_mmseg.clustering.sinkhorn import distribution_aligned_sinkhorn


def cosine_scores(num_samples, num_classes, dim=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(num_samples, dim, generator=gen), dim=1)
    protos = F.normalize(torch.randn(num_classes, dim, generator=gen), dim=1)
    return z @ protos.t()


def skewed_prior(num_classes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    prior = torch.rand(num_classes, generator=gen, dtype=torch.float64)**3 + 1e-3
    return (prior / prior.sum()).float()


def pot_plan(scores, prior, epsilon, num_iters, stop_thr):
    """POT's plan for the same problem, rescaled to our convention (Q = N * P)."""
    num_samples = scores.shape[0]
    a = np.full(num_samples, 1.0 / num_samples)
    b = prior.double().numpy()
    b = b / b.sum()
    cost = -scores.double().numpy()
    plan = ot.sinkhorn(a, b, cost, epsilon, method='sinkhorn', numItermax=num_iters,
                       stopThr=stop_thr, warn=False)
    return torch.from_numpy(plan * num_samples)


def reference_loop(scores, prior, epsilon, num_iters):
    """The algorithm as written in the paper's supplement, float64, no stabilisation."""
    q = torch.exp(scores.double() / epsilon).t()  # (C, N)
    q /= q.sum()
    num_samples = q.shape[1]
    for _ in range(num_iters):
        q /= q.sum(dim=1, keepdim=True)
        q *= prior.double().unsqueeze(1)
        q /= q.sum(dim=0, keepdim=True)
        q /= num_samples
    return (q * num_samples).t()


@pytest.mark.parametrize('num_samples,num_classes,epsilon,seed', [
    (200, 5, 0.1, 0),
    (300, 19, 0.1, 1),
    (150, 7, 0.05, 2),
])
def test_converged_plan_matches_pot(num_samples, num_classes, epsilon, seed):
    scores = cosine_scores(num_samples, num_classes, seed=seed)
    prior = skewed_prior(num_classes, seed=seed)
    ours = distribution_aligned_sinkhorn(scores, prior, epsilon=epsilon, num_iters=3000)
    theirs = pot_plan(scores, prior, epsilon, num_iters=200000, stop_thr=1e-13)
    assert (ours.double() - theirs).abs().max().item() < 1e-4
    # Both satisfy the Eq. 12 marginals: rows 1, columns N * prior.
    assert torch.allclose(ours.sum(1), torch.ones(num_samples), atol=1e-5)
    assert torch.allclose(ours.sum(0) / num_samples, prior, atol=1e-5)


@pytest.mark.parametrize('num_iters', [1, 3, 10])
def test_fixed_iterations_match_pot_and_reference_loop(num_iters):
    scores = cosine_scores(1000, 19, seed=3)
    prior = skewed_prior(19, seed=3)
    ours = distribution_aligned_sinkhorn(scores, prior, epsilon=0.05, num_iters=num_iters)
    theirs = pot_plan(scores, prior, 0.05, num_iters=num_iters, stop_thr=0.0)
    loop = reference_loop(scores, prior, 0.05, num_iters)
    assert torch.allclose(theirs, loop, atol=1e-10)  # the mapping in the module docstring
    assert (ours.double() - loop).abs().max().item() < 1e-5


def test_log_domain_path_computes_the_same_iterates():
    scores = cosine_scores(700, 11, seed=4)
    prior = skewed_prior(11, seed=4)
    norm_prior = prior / prior.sum()
    scaled, trusted = sinkhorn_module._scaling_path(scores, norm_prior, 0.05, 3)
    logged = sinkhorn_module._log_domain_path(scores, norm_prior, 0.05, 3)
    assert bool(trusted)
    assert (scaled - logged).abs().max().item() < 1e-5


@pytest.mark.parametrize('epsilon,shift,scaling_path', [(0.05, 0.0, True),
                                                        (0.01, 1.5, False)])
def test_mixed_precision_autocast_does_not_change_the_plan(epsilon, shift, scaling_path):
    # Training with --amp runs the loss under autocast, which would otherwise move the
    # kernel products to bf16/fp16 (1e-2 error on the scaling path here).
    scores = cosine_scores(4096, 19, seed=6)
    scores[:, 3] -= shift
    prior = skewed_prior(19, seed=6)
    _, trusted = sinkhorn_module._scaling_path(scores, prior / prior.sum(), epsilon, 3)
    assert bool(trusted) == scaling_path
    plain = distribution_aligned_sinkhorn(scores, prior, epsilon=epsilon)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mixed = distribution_aligned_sinkhorn(scores, prior, epsilon=epsilon)
    assert mixed.dtype == torch.float32
    assert torch.equal(plain, mixed)


@pytest.mark.parametrize('shift', [1.5, 0.75])
def test_fallback_when_a_class_underflows_matches_float64(shift):
    # epsilon = 0.01 and one class far below every other score. shift 1.5: exp(-150) and
    # below, the whole class underflows in fp32. shift 0.75: exponents -75 ... -135, a
    # few entries stay normal floats but most are lost, which would bias that class's
    # mass by ~1e-3. Either way the scaling path must refuse and the log domain answer.
    scores = cosine_scores(500, 6, seed=5) * 0.3
    scores[:, 2] -= shift
    prior = torch.tensor([0.3, 0.2, 0.1, 0.2, 0.1, 0.1])
    _, trusted = sinkhorn_module._scaling_path(scores, prior, 0.01, 3)
    assert not bool(trusted)
    ours = distribution_aligned_sinkhorn(scores, prior, epsilon=0.01, num_iters=3)
    expected = pot_plan(scores, prior, 0.01, num_iters=3, stop_thr=0.0)
    # Exponents reach 180 here, so fp32 rounding of scores / epsilon alone is ~1e-5.
    assert (ours.double() - expected).abs().max().item() < 5e-5
    converged = distribution_aligned_sinkhorn(scores, prior, epsilon=0.01, num_iters=500)
    assert torch.allclose(converged.sum(0) / 500, prior, atol=1e-4)


def test_columns_approach_prior_as_iterations_grow():
    scores = cosine_scores(2000, 19, seed=6)
    prior = skewed_prior(19, seed=6)
    errors = []
    for num_iters in (1, 3, 30, 300):
        q = distribution_aligned_sinkhorn(scores, prior, epsilon=0.05, num_iters=num_iters)
        assert torch.allclose(q.sum(1), torch.ones(2000), atol=1e-5)
        errors.append((q.sum(0) / 2000 - prior).abs().max().item())
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert errors[3] < 1e-5


def test_equal_scores_give_the_prior_in_every_row():
    prior = torch.tensor([0.5, 0.0, 0.25, 1e-6, 0.25 - 1e-6])
    q = distribution_aligned_sinkhorn(torch.full((64, 5), 0.3), prior, epsilon=0.01)
    assert torch.allclose(q, prior.expand(64, -1), atol=1e-7)


def test_zero_prior_classes_get_no_mass_and_output_is_detached():
    scores = cosine_scores(400, 6, seed=7).requires_grad_()
    prior = torch.tensor([0.4, 0.0, 0.3, 0.0, 0.3, 0.0])
    q = distribution_aligned_sinkhorn(scores, prior, epsilon=0.05, num_iters=50)
    assert not q.requires_grad
    assert q.dtype == torch.float32
    assert torch.all(q[:, 1] == 0) and torch.all(q[:, 3] == 0) and torch.all(q[:, 5] == 0)
    assert torch.allclose(q.sum(0) / 400, prior, atol=1e-4)


def test_unnormalised_prior_is_normalised_and_input_untouched():
    scores = cosine_scores(100, 4, seed=8)
    before = scores.clone()
    prior = torch.tensor([1.0, 2.0, 3.0, 4.0])
    q = distribution_aligned_sinkhorn(scores, prior, num_iters=200)
    assert torch.equal(scores, before)
    assert torch.allclose(q.sum(0) / 100, prior / 10, atol=1e-5)


@pytest.mark.parametrize('kwargs,match', [
    (dict(scores=torch.zeros(3), class_prior=torch.ones(3)), r'\(N, C\)'),
    (dict(scores=torch.zeros(3, 4), class_prior=torch.ones(3)), 'class_prior must be'),
    (dict(scores=torch.zeros(3, 2), class_prior=torch.tensor([1.0, -1.0])), 'non-negative'),
    (dict(scores=torch.zeros(3, 2), class_prior=torch.zeros(2)), 'not all zero'),
    (dict(scores=torch.zeros(3, 2), class_prior=torch.ones(2), epsilon=0.0), 'epsilon'),
    (dict(scores=torch.zeros(3, 2), class_prior=torch.ones(2), num_iters=0), 'num_iters'),
    (dict(scores=torch.full((3, 2), math.nan), class_prior=torch.ones(2)), 'NaN'),
])
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        distribution_aligned_sinkhorn(**kwargs)


def test_empty_batch():
    q = distribution_aligned_sinkhorn(torch.zeros(0, 3), torch.ones(3) / 3)
    assert q.shape == (0, 3)


def check_assignments(q, scores, prior):
    num_samples, num_classes = scores.shape
    assert q.shape == (num_samples, num_classes) and q.dtype == torch.float32
    assert torch.isfinite(q).all()
    assert (q >= 0).all()
    assert torch.allclose(q.sum(1), torch.ones(num_samples), atol=1e-4)
    assert torch.all(q[:, prior == 0] == 0)


@pytest.mark.parametrize('epsilon', [0.01, 0.05])
def test_two_hundred_thousand_rows(epsilon):
    scores = cosine_scores(200_000, 19, seed=9)
    prior = skewed_prior(19, seed=9)
    prior[4] = 0.0
    prior[7] = 1e-6
    q = distribution_aligned_sinkhorn(scores, prior, epsilon=epsilon, num_iters=3)
    check_assignments(q, scores, prior)


prior_entries = st.sampled_from([0.0, 1e-6, 1e-3, 0.05, 0.3, 1.0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    num_samples=st.integers(1, 300),
    num_classes=st.integers(1, 24),
    epsilon=st.sampled_from([0.01, 0.02, 0.05, 0.1]),
    dtype=st.sampled_from([torch.float32, torch.float16, torch.bfloat16]),
    kind=st.sampled_from(['cosine', 'equal', 'spread', 'one_class_far']),
    num_iters=st.integers(1, 20),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_property_finite_normalised_and_prior_respecting(num_samples, num_classes, epsilon,
                                                         dtype, kind, num_iters, seed, data):
    prior = torch.tensor(data.draw(st.lists(prior_entries, min_size=num_classes,
                                            max_size=num_classes)))
    if prior.sum() == 0:
        prior[0] = 1.0
    if kind == 'cosine':
        scores = cosine_scores(num_samples, num_classes, seed=seed)
    elif kind == 'equal':
        scores = torch.full((num_samples, num_classes), 0.7)
    elif kind == 'spread':  # scores far outside [-1, 1]: exponents up to +-1000
        gen = torch.Generator().manual_seed(seed)
        scores = torch.randn(num_samples, num_classes, generator=gen) * 5
    else:
        scores = cosine_scores(num_samples, num_classes, seed=seed)
        scores[:, -1] -= 1.9
    scores = scores.to(dtype)
    q = distribution_aligned_sinkhorn(scores, prior, epsilon=epsilon, num_iters=num_iters)
    check_assignments(q, scores, prior)
    if kind == 'equal':
        assert torch.allclose(q, (prior / prior.sum()).expand_as(q), atol=1e-5)
