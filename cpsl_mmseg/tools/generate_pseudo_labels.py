"""Write the soft pseudo labels P_ST of every target training image (Alg. 1, line 1).

    python tools/generate_pseudo_labels.py CPSL_CONFIG WARMUP_CHECKPOINT [--out DIR]
    torchrun --nproc_per_node=N tools/generate_pseudo_labels.py ... --launcher pytorch

The network is the config's ``model.segmentor`` (or ``model`` for a plain
EncoderDecoder config) loaded strictly from WARMUP_CHECKPOINT; the images are those
of ``train_dataloader.dataset.target`` (a UDADataset config), read without
augmentation. Each map is the softmax at the network's output stride, quantised as
described in ``cpsl_mmseg/datasets/pseudo_label_io.py``; the default output
directory is the ``pseudo_label_dir`` of the target pipeline's
``LoadSoftPseudoLabel``, so training reads exactly what this tool wrote.

The directory records which checkpoint wrote it (``pseudo_labels_meta.json``: path
and SHA-256, written before any map). Resumable: with the same checkpoint, images
whose map already exists and reads back are skipped, and temporary files of a killed
writer are removed. Another checkpoint is refused unless ``--overwrite`` is given,
which removes the old maps first. Under torchrun each rank writes its own shard.
"""
import argparse
from typing import List, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.dist import barrier, get_dist_info
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

import cpsl_mmseg  # noqa: F401
from cpsl_mmseg.datasets.pseudo_label_dir import claim_directory, mark_complete
from cpsl_mmseg.datasets.pseudo_label_io import (is_valid_soft_pseudo_label,
                                                 pseudo_label_path,
                                                 save_soft_pseudo_label)
from cpsl_mmseg.models.segmentors.uda_base import final_decode_head
from cpsl_mmseg.utils.launch import finish_distributed, start_distributed
from cpsl_mmseg.utils.offline_inference import (build_target_images, build_warmup_network,
                                                target_dataset_cfg)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='CPSL (or plain segmentor) config')
    parser.add_argument('checkpoint', help='warm-up model checkpoint')
    parser.add_argument('--out', help='output directory (default: the '
                        'pseudo_label_dir of the target pipeline)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the maps of the directory (also those of another '
                        'checkpoint)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def default_output_dir(target_cfg: dict) -> str:
    for step in target_cfg.get('pipeline', []):
        if step.get('type') == 'LoadSoftPseudoLabel':
            return step['pseudo_label_dir']
    raise KeyError('no --out given and the target pipeline has no '
                   'LoadSoftPseudoLabel with a pseudo_label_dir')


@torch.no_grad()
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    device = start_distributed(args.launcher, args.local_rank)
    rank, world_size = get_dist_info()

    out_dir = args.out or default_output_dir(target_dataset_cfg(cfg))
    dataset = build_target_images(cfg)
    model = build_warmup_network(cfg, args.checkpoint).to(device)
    num_classes = final_decode_head(model).num_classes
    if rank == 0:
        claim_directory(out_dir, args.checkpoint, args.config, num_classes,
                        args.overwrite)
    barrier()

    todo = []
    for idx in range(rank, len(dataset), world_size):
        path = pseudo_label_path(out_dir, dataset.get_data_info(idx)['img_path'])
        if not is_valid_soft_pseudo_label(path, num_classes):
            todo.append(idx)
    print(f'[rank {rank}] {len(todo)} of the shard\'s images to do, '
          f'writing to {out_dir}')
    progress = ProgressBar(len(todo)) if rank == 0 else None
    for idx in todo:
        batch = model.data_preprocessor(pseudo_collate([dataset[idx]]), False)
        logits = model._forward(batch['inputs'])
        path = pseudo_label_path(out_dir, batch['data_samples'][0].img_path)
        save_soft_pseudo_label(path, logits[0].float().softmax(dim=0))
        if progress is not None:
            progress.update()
    barrier()
    if rank == 0:
        mark_complete(out_dir, len(dataset))
        print(f'\nP_ST maps in {out_dir}')
    finish_distributed()


if __name__ == '__main__':
    main()
