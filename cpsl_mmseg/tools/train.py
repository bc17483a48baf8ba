"""Train a segmentor (plain mmseg or CPSL) with mmengine's Runner.

Same command line as MMSegmentation's ``tools/train.py``, plus:
  * ``--resume`` optionally takes a checkpoint path (bare ``--resume`` resumes from
    the latest checkpoint in the work dir, as in mmseg);
  * on machines without CUDA, ``--launcher pytorch|slurm`` trains on CPU processes
    (gloo process group, CPU-aware DDP wrapper; see ``cpsl_mmseg.compat``).

Examples::

    python tools/train.py configs/smoke/fcn_r18-tiny_2xb2-20it_smoke-64x64.py --work-dir work_dirs/smoke
    torchrun --nproc_per_node=2 tools/train.py CONFIG --launcher pytorch
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import cpsl_mmseg  # noqa: F401  (registers components, applies compat shims)
from cpsl_mmseg.utils.launch import finish_distributed, prepare_launch


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        default=None,
        metavar='CHECKPOINT',
        help='resume training: from CHECKPOINT if given, else from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs, e.g. '
        'train_cfg.max_iters=10 "model.decode_head.num_classes=7"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args: argparse.Namespace) -> Config:
    """Merge the command line into the config file (mmseg's rules)."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        optim_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_type == 'OptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
        elif optim_type != 'AmpOptimWrapper':
            raise ValueError(
                f'--amp needs optim_wrapper.type OptimWrapper or '
                f'AmpOptimWrapper, but the config sets {optim_type!r}')
    if args.resume is not None:
        cfg.resume = True
        if args.resume != 'auto':
            if not osp.isfile(args.resume):
                raise FileNotFoundError(
                    f'--resume: checkpoint not found: {args.resume}')
            cfg.load_from = args.resume
        else:
            cfg.load_from = None
    return cfg


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    cfg = build_config(args)
    prepare_launch(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    main()
