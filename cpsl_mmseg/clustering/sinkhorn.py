"""Distribution-aligned Sinkhorn-Knopp (CPSL Eq. 6 with the marginals of Eq. 12).

The transport plan of Eq. 6 is ``Q* = diag(alpha) exp(f_SL(Z) / epsilon) diag(beta)``
with class marginal ``r = class_prior`` (Eq. 12) and sample marginal ``h = 1/N``.
We return it in (N, C) layout scaled by N, so every row (sample) sums to 1 and the
column (class) sums approach ``N * class_prior`` as the iterations proceed.

Iterates are those of the classic algorithm started from the plain kernel
``exp(scores / epsilon)``: each iteration rescales the classes to their prior mass
and then the samples to unit mass, so 3 iterations here equal 3 iterations of the
authors' code and of POT's ``ot.sinkhorn`` (which ends on the sample marginal too).

Two paths compute the same iterates:

* a scaling path: the kernel ``K = exp2((s - max s) * log2(e) / epsilon)`` is built
  once in the output buffer and the iterations only run matrix-vector products with
  the scaling vectors ``u`` (N,) and ``v`` (C,); this is one (N, C) fp32 buffer
  (the output itself) plus O(N + C) vectors.
* a log-domain path, taken only when the scaling path cannot certify its result
  (kernel entries or scaling vectors outside the safe fp32 range, e.g. epsilon=0.01
  with a class whose scores all lie far below the best one); it uses one extra
  (N, C) buffer.

The matrix-vector products run through ``torch.bmm``/``torch.mm``; on CUDA with TF32
matmuls enabled (``torch.backends.cuda.matmul.allow_tf32``) they lose precision to
about 1e-3 relative.
"""
import math
from typing import Sequence, Tuple

import torch
from torch import Tensor

# Smallest trusted marginal sum relative to its scale (see _scaling_path).
_SAFE_FRACTION = 2.0**-100
# Rows per block of the blocked K^T u product (see _class_mass).
_BLOCK_ROWS = 256


def _check_inputs(scores: Tensor, class_prior: Tensor, epsilon: float,
                  num_iters: int) -> Tensor:
    """Validate arguments; return the prior as an fp32 probability vector (C,)."""
    if scores.dim() != 2:
        raise ValueError('distribution_aligned_sinkhorn: scores must be (N, C), '
                         f'got shape {tuple(scores.shape)}')
    num_classes = scores.shape[1]
    if class_prior.shape != (num_classes, ):
        raise ValueError('distribution_aligned_sinkhorn: class_prior must be '
                         f'({num_classes},) to match scores {tuple(scores.shape)}, '
                         f'got {tuple(class_prior.shape)}')
    if not epsilon > 0:
        raise ValueError(f'distribution_aligned_sinkhorn: epsilon must be > 0, got {epsilon}')
    if num_iters < 1:
        raise ValueError(
            f'distribution_aligned_sinkhorn: num_iters must be >= 1, got {num_iters}')
    prior = class_prior.detach().to(device=scores.device, dtype=torch.float32)
    total = prior.sum()
    if not bool(torch.isfinite(prior).all() & (prior >= 0).all() & (total > 0)):
        raise ValueError('distribution_aligned_sinkhorn: class_prior must be finite, '
                         f'non-negative and not all zero, got {class_prior.tolist()}')
    return prior / total


def _class_mass(kernel: Tensor, u: Tensor) -> Tensor:
    """K^T u (C,) summed in blocks of rows.

    A single ``torch.mv(K.t(), u)`` accumulates all N rows in one fp32 running sum
    (about 1e-5 relative error at N = 65k with MKL); block partial sums reduced by
    ``torch.sum`` cost the same time and keep the error near 1e-7.
    """
    num_rows, num_classes = kernel.shape
    blocked = (num_rows // _BLOCK_ROWS) * _BLOCK_ROWS
    mass = torch.bmm(u[:blocked].view(-1, 1, _BLOCK_ROWS),
                     kernel[:blocked].view(-1, _BLOCK_ROWS, num_classes)).sum(dim=(0, 1))
    if blocked < num_rows:
        mass += torch.mv(kernel[blocked:].t(), u[blocked:])
    return mass


def _scaling_path(scores: Tensor, prior: Tensor, epsilon: float,
                  num_iters: int) -> tuple[Tensor, Tensor]:
    """Sinkhorn iterations on the fp32 kernel; returns (plan (N, C), trusted flag).

    The flag is a 0-dim bool tensor (no host sync inside the loop). It is True when
    every class mass ``K^T u`` (with max u = 1) is at least ``N * 2**-100`` and every
    sample mass ``K v`` at least ``2**-100 * sum(v)``: kernel entries lost to fp32
    underflow (each below 2**-126) then move no marginal by more than 2**-26 relative.
    """
    num_samples = scores.shape[0]
    # K = exp((s - max s) / eps) = exp2(s * scale - max s * scale), entries in (0, 1];
    # exp2 is markedly faster than exp on CPU, and add(alpha=) scales and shifts in one pass.
    scale = math.log2(math.e) / epsilon
    offset = scores.amax().float() * -scale
    if scores.dtype == torch.float32:
        plan = torch.add(offset, scores, alpha=scale)
    else:
        plan = scores.to(torch.float32).mul_(scale).add_(offset)
    plan.exp2_()

    positive = prior > 0
    u = torch.ones(num_samples, dtype=torch.float32, device=scores.device)
    ok = torch.ones((), dtype=torch.bool, device=scores.device)
    for _ in range(num_iters):
        class_mass = _class_mass(plan, u)  # (C,) = K^T u
        ok &= ((class_mass >= num_samples * _SAFE_FRACTION) | ~positive).all()
        v = torch.where(positive, prior / class_mass, torch.zeros_like(prior))
        ok &= torch.isfinite(v).all()
        sample_mass = torch.mm(plan, v.unsqueeze(1)).squeeze(1)  # (N,) = K v
        smallest = sample_mass.min()
        ok &= smallest >= _SAFE_FRACTION * v.sum()  # also False when NaN
        u = smallest / sample_mass  # 1 / (K v), rescaled so max(u) = 1
    # Final sample normalisation: row n of the plan is K_n * v / (K_n . v).
    plan.mul_(v).mul_(sample_mass.reciprocal_().unsqueeze(1))
    return plan, ok


def _log_sum_exp_(values: Tensor, dim: int) -> Tensor:
    """log(sum(exp(values), dim)) that overwrites ``values`` instead of allocating."""
    top = values.amax(dim=dim, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    return (top.squeeze(dim) + values.sub_(top).exp_().sum(dim=dim).log())


def _log_domain_path(scores: Tensor, prior: Tensor, epsilon: float, num_iters: int) -> Tensor:
    """The same iterates with log-potentials f (N,) and g (C,); exact in fp32 range."""
    if not bool(torch.isfinite(scores).all()):
        raise ValueError('distribution_aligned_sinkhorn: scores contain NaN or inf')
    num_samples = scores.shape[0]
    log_kernel = scores.to(torch.float32, copy=True).mul_(1.0 / epsilon)
    log_class_target = torch.log(prior * num_samples)  # -inf where the prior is 0
    work = torch.empty_like(log_kernel)
    f = torch.zeros(num_samples, dtype=torch.float32, device=scores.device)
    for step in range(num_iters):
        torch.add(log_kernel, f.unsqueeze(1), out=work)
        g = log_class_target - _log_sum_exp_(work, dim=0)
        torch.add(log_kernel, g.unsqueeze(0), out=work)
        if step + 1 < num_iters:
            f = -_log_sum_exp_(work, dim=1)
    del log_kernel
    # The last sample normalisation runs in the linear domain (a row softmax of
    # log K + g), so rows sum to 1 to fp32 rounding even when exponents are huge.
    work.sub_(work.amax(dim=1, keepdim=True)).exp_()
    return work.div_(work.sum(dim=1, keepdim=True))


@torch.no_grad()
def distribution_aligned_sinkhorn(scores: Tensor,
                                  class_prior: Tensor,
                                  epsilon: float = 0.05,
                                  num_iters: int = 3) -> Tensor:
    """Soft cluster assignments by distribution-aligned Sinkhorn-Knopp (Eq. 6, 12).

    Args:
        scores: (N, C) head scores ``f_SL(z)`` (cosine similarities), any float
            dtype; computed in fp32.
        class_prior: (C,) class distribution ``r = delta_pseudo`` (Eq. 12); non-negative,
            normalised to sum 1 here. Classes with prior 0 receive no mass.
        epsilon: entropic temperature of Eq. 6 (the kernel is ``exp(scores / epsilon)``).
        num_iters: Sinkhorn iterations (class rescaling followed by sample rescaling).

    Returns:
        (N, C) fp32 assignments ``Q`` (Eq. 6 scaled by N): rows sum to 1, column sums
        approach ``N * class_prior`` as ``num_iters`` grows. Autocast (mixed
        precision) is switched off inside, so the result does not depend on it.
    """
    prior = _check_inputs(scores, class_prior, epsilon, num_iters)
    if scores.shape[0] == 0:
        return torch.zeros(scores.shape, dtype=torch.float32, device=scores.device)
    # Under mixed precision (--amp) autocast would run the products in fp16/bf16, where
    # kernel entries far below the best class underflow: keep every step in fp32.
    with torch.autocast(device_type=scores.device.type, enabled=False):
        plan, trusted = _scaling_path(scores, prior, epsilon, num_iters)
        if bool(trusted):
            return plan
        del plan
        return _log_domain_path(scores, prior, epsilon, num_iters)


@torch.no_grad()
def grouped_sinkhorn(current: Tensor, bank: Tensor, class_prior: Tensor,
                     groups: Sequence[Tensor], epsilon: float = 0.05,
                     num_iters: int = 3) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
    """Assignments of the current rows, each group solved with the bank (Eq. 6, 12).

    For every (n,) bool mask in ``groups``, one Sinkhorn problem on
    ``[current[group]; bank]``; only the current rows' assignments are kept (the bank
    rows only shape the marginals, Sec. 3.2).

    Args:
        current: (n, C) scores of the current samples.
        bank: (L, C) scores of the bank rows (L may be 0).
        class_prior: (C,) class marginal r.
        groups: masks over the n current rows that together cover them once.

    Returns:
        (n, C) assignments of the current rows, and (the last group's mask, its
        (n_g + L, C) assignments), the whole problem, for diagnostics.
    """
    targets = current.new_zeros(current.shape)
    last = (groups[-1], current.new_zeros((0, current.shape[1])))
    for rows in groups:
        assignments = distribution_aligned_sinkhorn(
            torch.cat([current[rows], bank]), class_prior, epsilon, num_iters)
        targets[rows] = assignments[:int(rows.sum())]
        last = (rows, assignments)
    return targets, last
