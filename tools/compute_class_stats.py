"""Write ``class_stats.json`` (per-image class pixel counts) for any labelled dataset of
an mmseg config, the statistics rare class sampling draws from.

    python tools/compute_class_stats.py CONFIG [--dataset KEY] [--out FILE]

KEY is the config key of the dataset (default: the source of a ``UDADataset``
training set, else the training set itself); FILE defaults to ``class_stats.json`` in
that dataset's ``data_root``, where ``UDADataset(rare_class_sampling=dict(
stats_file='class_stats.json'))`` finds it. Labels are read as the dataset reads them
(label map, reduce_zero_label); the GTA5 / SYNTHIA converters write the same file. The
file is written atomically.
"""
import argparse
import json
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import cpsl_mmseg  # noqa: F401
from cpsl_mmseg.datasets.class_stats import STATS_FILE, dataset_class_statistics
from cpsl_mmseg.datasets.label_conversion import write_atomic


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='mmseg config naming the dataset')
    parser.add_argument('--dataset', default=None,
                        help='config key of the dataset, e.g. '
                        'train_dataloader.dataset.source')
    parser.add_argument('--out', default=None, help=f'output file (default: '
                        f'DATA_ROOT/{STATS_FILE})')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def dataset_config(cfg: Config, key: Optional[str]) -> dict:
    """The dataset config at ``key`` (default: the UDA source or the training set)."""
    if key is None:
        key = 'train_dataloader.dataset'
        if cfg.train_dataloader.dataset.get('type') == 'UDADataset':
            key += '.source'
    node = cfg
    for part in key.split('.'):
        if part not in node:
            raise KeyError(f'{key}: the config has no {part!r} there')
        node = node[part]
    if not isinstance(node, dict) or 'type' not in node:
        raise ValueError(f'{key} is not a dataset config')
    return dict(node, pipeline=[])


def main(argv: Optional[List[str]] = None) -> str:
    """Compute and write the statistics; returns the file written."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    dataset = DATASETS.build(dataset_config(cfg, args.dataset))
    if len(dataset) == 0:
        raise ValueError(f'{args.config}: the dataset has no samples')
    out = args.out or osp.join(dataset.data_root or '.', STATS_FILE)
    stats = dataset_class_statistics(dataset)
    write_atomic(out, (json.dumps(stats, indent=1) + '\n').encode())
    print(f'class statistics of {stats["num_images"]} images: {out}')
    return out


if __name__ == '__main__':
    main()
