"""The whole pipeline of a pipeline config in one command, resumable, on one process,
on N processes (torchrun) or on a SLURM cluster (srun).

    python projects/cpsl_lab/tools/run_pipeline.py CONFIG --work-dir DIR [--seed S]
        [--data-root DIR] [--oracle] [--warmup {source_only,adversarial}]
        [--with STAGE ...] [--variant STAGE=VARIANT ...] [--redo STAGE ...]
        [--until STAGE] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm}] [--gpus N] [--gpus-per-node K]
        [--partition P]

CONFIG holds ``uda_pipeline.stages`` (``cpsl_lab.pipeline.spec``): the toy CPSL config
(``projects/cpsl_lab/configs/toy/cpsl_deeplabv3plus_r18-tiny_toy-128x64.py``) or a
paper recipe (``configs/pipelines/``). Every stage writes ``DIR/<stage>/config.py``
(its config plus the inputs it was given) and runs its tool on that file; the command
and the tool's output are in ``DIR/<stage>/<tool>.log``. Run the same command again to
continue: complete stages whose inputs did not change are skipped, an interrupted
training stage resumes from its last checkpoint. The run ends with
``DIR/summary.json`` and ``DIR/summary.md`` (and figures, with an analysis stage).
"""
import argparse
from typing import List, Optional

from cpsl_lab.pipeline import Launcher, Pipeline
from mmengine.config import DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config with uda_pipeline.stages')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--data-root', help='data_root of every dataset (toy tree)')
    parser.add_argument('--seed', type=int, default=0,
                        help='training seed of every stage')
    parser.add_argument('--with', dest='optional', nargs='+', default=[],
                        metavar='STAGE', help='also run these optional stages')
    parser.add_argument('--oracle', action='store_true',
                        help='= --with oracle (the toy target oracle, an upper bound)')
    parser.add_argument('--variant', nargs='+', default=[], metavar='STAGE=VARIANT',
                        help='run a variant of a stage (see its config)')
    parser.add_argument('--warmup', choices=('source_only', 'adversarial'),
                        help='= --variant warmup=adversarial for "adversarial" (the '
                        "toy pipeline's paper-style warm-up)")
    parser.add_argument('--redo', nargs='+', default=[], metavar='STAGE',
                        help='rerun these stages even if complete')
    parser.add_argument('--until', metavar='STAGE', help='stop after this stage')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='extra key=value options for every training stage')
    parser.add_argument('--launcher', default='none', choices=('none', 'pytorch', 'slurm'),
                        help='how distributed tools start (default: one process)')
    parser.add_argument('--gpus', type=int, default=1,
                        help='processes (GPUs) of every distributed tool')
    parser.add_argument('--gpus-per-node', type=int, help='SLURM: GPUs per node')
    parser.add_argument('--partition', help='SLURM partition')
    return parser.parse_args(argv)


def pipeline_from_args(args: argparse.Namespace) -> Pipeline:
    variants = dict(item.split('=', 1) for item in args.variant)
    if args.warmup == 'adversarial':
        variants['warmup'] = 'adversarial'
    optional = args.optional + (['oracle'] if args.oracle else [])
    launcher = Launcher(args.launcher, args.gpus, args.gpus_per_node, args.partition)
    return Pipeline(args.config, args.work_dir, seed=args.seed, data_root=args.data_root,
                    optional=optional, variants=variants, redo=args.redo,
                    until=args.until, cfg_options=args.cfg_options, launcher=launcher)


def main(argv: Optional[List[str]] = None) -> None:
    pipeline_from_args(parse_args(argv)).execute()


if __name__ == '__main__':
    main()
