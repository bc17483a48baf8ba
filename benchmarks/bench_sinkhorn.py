"""Benchmark distribution_aligned_sinkhorn (CPSL Eq. 6, 12) against POT and a plain loop.

Problem: N = 65,536 + 2,048 rows (memory bank + current batch), C = 19, 3 iterations,
epsilon = 0.05, CPU fp32 cosine scores, a long-tailed class prior.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sinkhorn.py [--threads 1] [--repeats 30]

Prints a table and writes nothing. Thread counts for torch (``torch.set_num_threads``)
and for numpy's BLAS (environment variables set before numpy is imported) are both
``--threads``, so POT and ours get the same cores.
"""
import argparse
import os
import sys
import time
import tracemalloc

THREADS = '1'
if '--threads' in sys.argv:
    THREADS = sys.argv[sys.argv.index('--threads') + 1]
for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[var] = THREADS

import numpy as np  # noqa: E402
import ot  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cpsl_mmseg.clustering import sinkhorn as sinkhorn_module  # noqa: E402
from cpsl_mmseg.clustering.sinkhorn import distribution_aligned_sinkhorn  # noqa: E402

NUM_SAMPLES, NUM_CLASSES, NUM_ITERS, EPSILON = 65536 + 2048, 19, 3, 0.05


def make_problem(seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(NUM_SAMPLES, 256, generator=gen), dim=1)
    protos = F.normalize(torch.randn(NUM_CLASSES, 256, generator=gen), dim=1)
    # Correlate features with prototypes so that scores look like a trained head's.
    labels = torch.randint(0, NUM_CLASSES, (NUM_SAMPLES, ), generator=gen)
    z = F.normalize(z + 1.5 * protos[labels], dim=1)
    scores = (z @ protos.t()).contiguous()
    prior = 0.75**torch.arange(NUM_CLASSES, dtype=torch.float64)  # ~240x head-to-tail
    return scores, (prior / prior.sum()).float()


def reference_loop(scores, prior, epsilon, num_iters):
    """The authors' algorithm as plainly written: exp, then per-iteration row/col ops."""
    q = torch.exp(scores / epsilon).t()
    q /= q.sum()
    num_samples = q.shape[1]
    for _ in range(num_iters):
        q /= q.sum(dim=1, keepdim=True)
        q *= prior.unsqueeze(1)
        q /= q.sum(dim=0, keepdim=True)
        q /= num_samples
    return (q * num_samples).t()


def time_interleaved(fns, repeats):
    """Median seconds per call of each fn, timed round-robin so that all of them see
    the same machine load; also the median per-round ratio of each to the first."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    first = np.array(next(iter(times.values())))
    medians = {name: float(np.median(t)) for name, t in times.items()}
    ratios = {name: float(np.median(np.array(t) / first)) for name, t in times.items()}
    return medians, ratios


def peak_live_bytes(fn):
    """Peak of live CPU allocations made during fn (its output included).

    Replays the profiler's allocation records (each op's self memory and the bare
    ``[memory]`` records of frees) in time order.
    """
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    live = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def peak_numpy_bytes(fn):
    """Peak of traced allocations during fn (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    scores, prior = make_problem()
    a = np.full(NUM_SAMPLES, 1.0 / NUM_SAMPLES)
    b = prior.double().numpy() / prior.double().sum().item()
    cost = -scores.double().numpy()

    def ours():
        return distribution_aligned_sinkhorn(scores, prior, EPSILON, NUM_ITERS)

    def pot():
        return ot.sinkhorn(a, b, cost, EPSILON, method='sinkhorn', numItermax=NUM_ITERS,
                           stopThr=0.0, warn=False)

    def loop():
        return reference_loop(scores, prior, EPSILON, NUM_ITERS)

    def log_domain():
        return sinkhorn_module._log_domain_path(scores, prior, EPSILON, NUM_ITERS)

    matrix_bytes = NUM_SAMPLES * NUM_CLASSES * 4
    medians, ratios = time_interleaved(dict(ours=ours, pot=pot, loop=loop, log=log_domain),
                                       args.repeats)
    t_ours, t_pot, t_loop, t_log = (medians[k] for k in ('ours', 'pot', 'loop', 'log'))
    # Bandwidth reference: a warm, tight loop of torch.sum (the most favourable case).
    t_sum = time_interleaved(dict(sum=lambda: torch.sum(scores)), args.repeats * 10)[0]['sum']

    exact = torch.from_numpy(pot() * NUM_SAMPLES)  # float64, same 3 iterations
    exact_loop = reference_loop(scores.double(), prior.double(), EPSILON, NUM_ITERS)
    err_ours = (ours().double() - exact).abs().max().item()
    err_loop = (loop().double() - exact).abs().max().item()
    err_log = (log_domain().double() - exact).abs().max().item()
    err_pot_vs_loop64 = (exact - exact_loop).abs().max().item()
    _, trusted = sinkhorn_module._scaling_path(scores, prior, EPSILON, NUM_ITERS)

    peak_ours = peak_live_bytes(ours)
    peak_loop = peak_live_bytes(loop)
    peak_log = peak_live_bytes(log_domain)
    peak_pot = peak_numpy_bytes(pot)

    # Our scaling path streams the (N, C) fp32 matrix 15 times: max of scores (r),
    # scale and shift into the kernel (r+w), exp2 (r+w), 3 x (K^T u read + K v read),
    # final column scaling (r+w) and row scaling (r+w).
    passes = 15
    bandwidth_sum = matrix_bytes / t_sum
    bandwidth_ours = passes * matrix_bytes / t_ours
    floor_time = 2 * matrix_bytes / bandwidth_sum  # read scores once, write Q once

    print(f'Sinkhorn benchmark: N={NUM_SAMPLES}, C={NUM_CLASSES}, iters={NUM_ITERS}, '
          f'epsilon={EPSILON}, threads={args.threads} (torch and BLAS), '
          f'median of {args.repeats} interleaved rounds, torch {torch.__version__}, POT {ot.__version__}, '
          f'numpy {np.__version__}')
    print(f'scaling path trusted (no log-domain fallback): {bool(trusted)}')
    print()
    print(f'{"implementation":<44}{"ms/call":>9}{"POT/this":>10}{"max|err| vs f64":>17}'
          f'{"peak live (NxC fp32)":>22}')
    rows = [
        ('ours: distribution_aligned_sinkhorn (fp32)', t_ours, err_ours, peak_ours),
        ('POT ot.sinkhorn (float64 numpy)', t_pot, 0.0, peak_pot),
        ('plain reference loop (torch fp32)', t_loop, err_loop, peak_loop),
        ('ours, log-domain fallback path (fp32)', t_log, err_log, peak_log),
    ]
    for name, seconds, err, peak in rows:
        peak_text = f'{peak / matrix_bytes:.2f}'
        print(f'{name:<44}{seconds * 1e3:>9.2f}{t_pot / seconds:>10.2f}{err:>17.2e}'
              f'{peak_text:>22}')
    print()
    print(f'float64 reference loop vs POT (same iterates): max|diff| = {err_pot_vs_loop64:.1e}')
    print(f'speed-up of ours (ratio of medians): {t_pot / t_ours:.2f}x vs POT, '
          f'{t_loop / t_ours:.2f}x vs plain loop')
    print(f'speed-up of ours (median of per-round ratios): {ratios["pot"]:.2f}x vs POT, '
          f'{ratios["loop"]:.2f}x vs plain loop')
    print(f'torch.sum over the (N, C) fp32 matrix: {t_sum * 1e3:.3f} ms '
          f'= {bandwidth_sum / 1e9:.1f} GB/s')
    print(f'ours: {passes} passes over the matrix = {passes * matrix_bytes / 1e6:.1f} MB in '
          f'{t_ours * 1e3:.2f} ms = {bandwidth_ours / 1e9:.1f} GB/s '
          f'({100 * bandwidth_ours / bandwidth_sum:.0f}% of torch.sum bandwidth)')
    print(f'bandwidth floor (read scores + write Q once at torch.sum speed): '
          f'{floor_time * 1e3:.3f} ms; ours is {t_ours / floor_time:.1f}x that')


if __name__ == '__main__':
    main()
