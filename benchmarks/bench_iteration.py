"""Per-iteration cost of CPSL vs plain self-training on the same CPU config.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_iteration.py [--iters 30] \
        [--config projects/cpsl_lab/configs/toy/cpsl_deeplabv3plus_r18-tiny_toy-128x64.py]

CPSL comes from the config, the self-training baseline from the config of its
pipeline's ``self_training`` stage (``MeanTeacherSelfTraining``: EMA-teacher
pseudo labels, no self-labeling head, bank or Sinkhorn); CPSL uses stored P_ST.
One optimiser step = ``train_step`` on a preprocessed paired batch (random images
and labels at the config's crop size, so data loading is excluded), plus the
after-iteration EMA / prior updates. The two models alternate step by step so
they see the same machine load; the memory bank starts full so every CPSL step
pays the full Sinkhorn cost. Peak memory: each variant is re-run alone in a fresh
process and its peak RSS (``ru_maxrss``) reported.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import cpsl_mmseg  # noqa: F401

VARIANTS = ('self_training', 'cpsl')


def variant_config(cpsl_config: str, variant: str) -> Config:
    cfg = Config.fromfile(cpsl_config)
    if variant == 'self_training':
        cfg = Config.fromfile(next(stage['config'] for stage in cfg.uda_pipeline.stages
                                   if stage['name'] == 'self_training'))
    return cfg


def build(cfg: Config, device: str = 'cpu'):
    """The model of ``cfg`` on ``device`` in train mode (CPSL: statistics set and the
    memory bank full) and its optimiser wrapper."""
    model = MODELS.build(cfg.model)
    model.init_weights()
    if hasattr(model, 'initialize_statistics'):  # CPSL
        dim = model.self_labeling_head.feat_dim
        num_classes = model.num_classes
        model.initialize_statistics(
            torch.randn(num_classes, dim), torch.ones(num_classes))
        bank = model.memory_bank
        bank.enqueue(torch.nn.functional.normalize(torch.randn(bank.length, dim), dim=1),
                     torch.randint(0, num_classes, (bank.length, )))
    model.to(device).train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim


def paired_batch(cfg: Config, num_classes: int, seed: int, crop=None) -> dict:
    """A paired batch as the dataloader yields it (uint8 images, packed samples) at
    ``crop`` (height, width; default ``cfg.crop_size``)."""
    g = torch.Generator().manual_seed(seed)
    height, width = crop or cfg.crop_size
    batch = cfg.train_dataloader.batch_size

    def images():
        return [torch.randint(0, 255, (3, height, width), generator=g,
                              dtype=torch.uint8) for _ in range(batch)]

    source, target = [], []
    for _ in range(batch):
        s = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(
            0, num_classes, (1, height, width), generator=g)))
        s.set_metainfo(dict(img_shape=(height, width)))
        source.append(s)
        t = SegDataSample()
        t.set_data(dict(soft_pseudo_label=PixelData(data=torch.rand(
            num_classes, height, width, generator=g).softmax(0))))
        t.set_metainfo(dict(img_shape=(height, width)))
        target.append(t)
    return dict(
        source=dict(inputs=images(), data_samples=source),
        target=dict(inputs=images(), inputs_strong=images(),
                    data_samples=target))


def step(model, optim, data) -> float:
    start = time.perf_counter()
    model.train_step(data, optim)
    model.momentum_update()  # MeanTeacherHook
    if hasattr(model, 'update_class_prior'):  # OnlineClusteringHook
        model.update_class_prior()
    return time.perf_counter() - start


def peak_rss_child(config: str, variant: str, iters: int) -> None:
    cfg = variant_config(config, variant)
    init_default_scope('mmseg')
    model, optim = build(cfg)
    for i in range(iters):
        step(model, optim, paired_batch(cfg, model.num_classes, i))
    print(json.dumps(dict(peak_rss_mb=resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--config',
        default='projects/cpsl_lab/configs/toy/cpsl_deeplabv3plus_r18-tiny_toy-128x64.py')
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--peak-rss-child', choices=VARIANTS)
    args = parser.parse_args()
    if args.peak_rss_child:
        return peak_rss_child(args.config, args.peak_rss_child, 5)

    configs = {name: variant_config(args.config, name) for name in VARIANTS}
    cfg = configs['cpsl']
    init_default_scope('mmseg')
    torch.manual_seed(0)
    built = {name: build(configs[name]) for name in VARIANTS}
    times = {name: [] for name in VARIANTS}
    for i in range(args.warmup + args.iters):
        for name, (model, optim) in built.items():
            elapsed = step(model, optim,
                           paired_batch(cfg, model.num_classes, i))
            if i >= args.warmup:
                times[name].append(elapsed)
    peak = {}
    for name in VARIANTS:
        out = subprocess.run(
            [sys.executable, __file__, '--config', args.config,
             '--peak-rss-child', name], capture_output=True, text=True,
            check=True).stdout.strip().splitlines()[-1]
        peak[name] = json.loads(out)['peak_rss_mb']
    base = statistics.median(times['self_training'])
    print(f'config: {args.config}  batch {cfg.train_dataloader.batch_size} '
          f'x {cfg.crop_size}  torch threads {torch.get_num_threads()}  '
          f'{args.iters} timed steps each (after {args.warmup} warm-up)')
    print('| variant | median s/iter | mean s/iter | vs self-training | '
          'peak RSS (MB) |')
    print('|---|---|---|---|---|')
    for name in VARIANTS:
        med = statistics.median(times[name])
        print(f'| {name} | {med:.4f} | {statistics.mean(times[name]):.4f} | '
              f'{(med / base - 1) * 100:+.1f}% | {peak[name]:.0f} |')


if __name__ == '__main__':
    main()
