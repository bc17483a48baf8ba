"""Evaluate a checkpoint with mmengine's Runner (prints the per-class IoU table).

Same command line as MMSegmentation's ``tools/test.py`` (``--show-dir`` and TTA
excepted), with CPU-only distributed support as in ``tools/train.py``::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
"""
import argparse
import json
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import cpsl_mmseg  # noqa: F401  (registers components, applies compat shims)
from cpsl_mmseg.utils.launch import finish_distributed, prepare_launch


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out',
        help='directory where painted predictions are saved as PNG label maps')
    parser.add_argument(
        '--metrics-json',
        help='also write the returned metrics (e.g. per-class IoU with '
        'SubsetIoUMetric) to this JSON file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    prepare_launch(cfg)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    if args.metrics_json and runner.rank == 0:
        os.makedirs(osp.dirname(osp.abspath(args.metrics_json)), exist_ok=True)
        with open(args.metrics_json, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=1)
    finish_distributed()


if __name__ == '__main__':
    main()
