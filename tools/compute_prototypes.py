"""Compute the self-labeling head's initial prototypes (Eq. 7) and the class prior's
initial counts (Eq. 10) once, before CPSL training.

    python tools/compute_prototypes.py CPSL_CONFIG --out DIR/statistics.pth

The CPSL model is built from the config (teacher = ``model.warmup_checkpoint``),
and one pass over the target dataset of the training ``UDADataset`` accumulates the
teacher's L2-normalised features per class of Y_ST = argmax P_ST. Point the
``OnlineClusteringHook(init_file=...)`` of the training config at the output to
skip that pass at the start of training. The target training pipeline crops and
flips at random, so the pass is seeded with ``randomness.seed`` of the config (the
same seed gives the same file).
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from mmseg.registry import DATASETS, MODELS

import cpsl_mmseg  # noqa: F401
from cpsl_mmseg.engine.hooks.online_clustering_hook import (
    compute_initial_statistics, target_dataloader)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='CPSL config')
    parser.add_argument('--out', required=True, help='output .pth file')
    parser.add_argument('--max-batches', type=int, default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    if cfg.model.get('type') != 'CPSL':
        raise ValueError(f'{args.config}: model.type must be CPSL, got '
                         f'{cfg.model.get("type")}')
    set_random_seed(cfg.get('randomness', {}).get('seed') or 0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    dataloader = target_dataloader(dataset, cfg.train_dataloader.batch_size)
    prototypes, counts = compute_initial_statistics(model, dataloader,
                                                    args.max_batches)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.tmp'
    torch.save(dict(prototypes=prototypes.float(),
                    class_counts=counts.double()), tmp)
    os.replace(tmp, args.out)
    print(f'prototypes {tuple(prototypes.shape)} and class counts '
          f'{counts.tolist()} written to {args.out}')


if __name__ == '__main__':
    main()
