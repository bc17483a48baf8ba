"""Compute the self-labeling head's initial prototypes (Eq. 7) and the class prior's
initial counts (Eq. 10) once, before CPSL training.

    python tools/compute_prototypes.py CPSL_CONFIG --out DIR/statistics.pth
    torchrun --nproc_per_node=N tools/compute_prototypes.py ... --launcher pytorch

The CPSL model is built from the config (teacher = ``model.warmup_checkpoint``); one
pass over the full target training images (each once, whole, without augmentation:
:mod:`cpsl_mmseg.engine.initial_statistics`, the same pass ``OnlineClusteringHook``
runs when it has no file) accumulates the teacher's L2-normalised features per class
of Y_ST = argmax P_ST. Point ``OnlineClusteringHook(init_file=...)`` of the training
config at the output to skip that pass at the start of training. The output is
written atomically; the pass is deterministic, so the same inputs give the same file.
Under torchrun / srun each rank takes every N-th image and the sums are all-reduced
(on CUDA when there is a GPU); rank 0 writes the file.
"""
import argparse
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.dist import get_dist_info
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import cpsl_mmseg  # noqa: F401
from cpsl_mmseg.engine.initial_statistics import compute_initial_statistics, save_statistics
from cpsl_mmseg.utils.launch import finish_distributed, start_distributed
from cpsl_mmseg.utils.offline_inference import target_dataset_cfg


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='CPSL config')
    parser.add_argument('--out', required=True, help='output .pth file')
    parser.add_argument('--max-batches', type=int, default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    if cfg.model.get('type') != 'CPSL':
        raise ValueError(f'{args.config}: model.type must be CPSL, got '
                         f'{cfg.model.get("type")}')
    device = start_distributed(args.launcher, args.local_rank)
    model = MODELS.build(cfg.model)
    model.init_weights()
    prototypes, counts = compute_initial_statistics(
        model.to(device), target_dataset_cfg(cfg), cfg.train_dataloader.batch_size,
        args.max_batches)
    if get_dist_info()[0] == 0:
        save_statistics(args.out, prototypes, counts)
        print(f'prototypes {tuple(prototypes.shape)} and class counts '
              f'{counts.tolist()} written to {args.out}')
    finish_distributed()


if __name__ == '__main__':
    main()
