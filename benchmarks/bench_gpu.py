"""One GPU, paper scale: seconds per iteration and peak GPU memory of CPSL and of the
self-training baseline, and the Sinkhorn call at the paper's bank size.

    bash benchmarks/gpu_check.sh            # every measurement below, on a CUDA machine
    .venv/bin/python benchmarks/bench_gpu.py --variant cpsl [--amp] [--iters 100]
    .venv/bin/python benchmarks/bench_gpu.py --variant sinkhorn

``cpsl``: the paper CPSL config (default
``configs/cpsl/cpsl_deeplabv2_r101_4xb1-90k_gta5-to-cityscapes-896x512.py``: DeepLab v2
ResNet-101, 896x512 crops, one image per GPU, bank 65,536, M = 512). ``self_training``:
the same segmentor, data preprocessor and optimiser as ``MeanTeacherSelfTraining`` with
``configs/_base_/uda/mean_teacher.py``'s settings. Batches are synthetic (random images
and labels at the crop size, as a paired dataloader yields them: no datasets and no
data loading), the memory bank starts full so every CPSL step pays the whole Sinkhorn,
and no weights are loaded (``warmup_checkpoint`` and pretrained files are dropped).
``--amp`` trains through mmengine's ``AmpOptimWrapper`` (fp16 autocast, CUDA only).

One step = ``train_step`` + the after-iteration hooks' work (EMA teacher / momentum head,
class prior). Timed with ``torch.cuda.synchronize`` on both sides after ``--warmup``
untimed steps; peak memory is ``torch.cuda.max_memory_allocated`` over the timed steps.
``sinkhorn``: ``distribution_aligned_sinkhorn`` on (65,536 + 2,048) x 19 cosine scores,
epsilon 0.05, 3 iterations (the problem of ``benchmarks/bench_sinkhorn.py``).

Prints one JSON line per measurement; ``--summarize FILE`` turns a file of such lines
into the markdown table of ``benchmarks/README.md``. ``--device cpu`` runs the same code
on the CPU (tests use it at tiny size, with ``--config`` a shrunk config).
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import time

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_iteration import build, paired_batch  # noqa: E402
from bench_sinkhorn import EPSILON, NUM_ITERS, make_problem  # noqa: E402

import cpsl_mmseg  # noqa: E402,F401
from cpsl_mmseg.clustering.sinkhorn import distribution_aligned_sinkhorn  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PAPER_CONFIG = osp.join(
    REPO, 'configs/cpsl/cpsl_deeplabv2_r101_4xb1-90k_gta5-to-cityscapes-896x512.py')
MEAN_TEACHER = osp.join(REPO, 'configs/_base_/uda/mean_teacher.py')
WEIGHT_KEYS = ('pretrained', 'warmup_checkpoint', 'teacher_checkpoint', 'student_checkpoint')


def drop_weight_files(node) -> None:
    """Remove every pretrained-weight and stage-checkpoint reference (no files read)."""
    if isinstance(node, dict):
        for key in WEIGHT_KEYS:
            if key in node:
                node[key] = None
        init_cfg = node.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            node['init_cfg'] = None
        for value in node.values():
            drop_weight_files(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            drop_weight_files(value)


def variant_config(config: str, variant: str, amp: bool) -> Config:
    """The CPSL config, or its self-training baseline, ready to build offline."""
    cfg = Config.fromfile(config)
    if variant == 'self_training':
        baseline = Config.fromfile(MEAN_TEACHER)
        cfg.model = dict(baseline.mean_teacher, segmentor=cfg.model.segmentor)
        cfg.optim_wrapper.pop('paramwise_cfg', None)
    # As mmengine's Runner does: a top-level data_preprocessor fills the model's.
    if cfg.get('data_preprocessor') is not None:
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    drop_weight_files(cfg.model)
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
    return cfg


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize(device)


def peak_memory_mb(device: str) -> float:
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated(device) / 2**20
    return float('nan')  # CPU: see bench_iteration.py for peak RSS


def reset_peak_memory(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats(device)


def measure_training(args) -> dict:
    cfg = variant_config(args.config, args.variant, args.amp)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model, optim = build(cfg, args.device)
    # The size the preprocessor pads to is the training crop (896x512 in the paper).
    crop = tuple(model.data_preprocessor.size or cfg.crop_size)
    times = []
    for i in range(args.warmup + args.iters):
        if i == args.warmup:
            reset_peak_memory(args.device)
        data = paired_batch(cfg, model.num_classes, i, crop)
        synchronize(args.device)
        start = time.perf_counter()
        model.train_step(data, optim)
        model.momentum_update()  # MeanTeacherHook
        if hasattr(model, 'update_class_prior'):  # OnlineClusteringHook
            model.update_class_prior()
        synchronize(args.device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    return dict(variant=args.variant, amp=args.amp, config=osp.relpath(args.config, REPO),
                crop=list(crop), batch=cfg.train_dataloader.batch_size,
                iters=args.iters, median_s_per_iter=statistics.median(times),
                mean_s_per_iter=statistics.mean(times),
                peak_memory_mb=peak_memory_mb(args.device))


def measure_sinkhorn(args) -> dict:
    scores, prior = make_problem()
    scores, prior = scores.to(args.device), prior.to(args.device)
    times = []
    for i in range(args.warmup + args.iters):
        if i == args.warmup:
            reset_peak_memory(args.device)
        synchronize(args.device)
        start = time.perf_counter()
        distribution_aligned_sinkhorn(scores, prior, EPSILON, NUM_ITERS)
        synchronize(args.device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    return dict(variant='sinkhorn', amp=False, rows=scores.shape[0], classes=scores.shape[1],
                iters=args.iters, median_s_per_iter=statistics.median(times),
                mean_s_per_iter=statistics.mean(times),
                peak_memory_mb=peak_memory_mb(args.device))


def summarize(path: str) -> None:
    rows = [json.loads(line) for line in open(path) if line.startswith('{')]
    print('| measurement | precision | median s/iter | mean s/iter | peak GPU memory (MiB) |')
    print('|---|---|---|---|---|')
    for row in rows:
        print(f"| {row['variant']} | {'AMP fp16' if row['amp'] else 'fp32'} | "
              f"{row['median_s_per_iter']:.4f} | {row['mean_s_per_iter']:.4f} | "
              f"{row['peak_memory_mb']:.0f} |")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--variant', choices=('cpsl', 'self_training', 'sinkhorn'))
    parser.add_argument('--config', default=PAPER_CONFIG)
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--amp', action='store_true')
    parser.add_argument('--iters', type=int, default=100)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--summarize', metavar='FILE')
    args = parser.parse_args()
    if args.summarize:
        return args
    if not args.variant:
        parser.error('--variant is required (or --summarize FILE)')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device here (use --device cpu for a CPU run)')
    if args.amp and not args.device.startswith('cuda'):
        parser.error('--amp needs a CUDA device (mmengine AmpOptimWrapper, fp16)')
    if args.iters < 1 or args.warmup < 0:
        parser.error('--iters must be >= 1 and --warmup >= 0')
    return args


def main() -> None:
    args = parse_args()
    if args.summarize:
        return summarize(args.summarize)
    result = measure_sinkhorn(args) if args.variant == 'sinkhorn' else measure_training(args)
    result['device'] = (torch.cuda.get_device_name(args.device)
                        if args.device.startswith('cuda') else 'cpu')
    print(json.dumps(result))


if __name__ == '__main__':
    main()
