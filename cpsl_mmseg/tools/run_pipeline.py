"""Run every stage of a pipeline config in one command, resumable, on one process, on
N processes (torchrun) or on a SLURM cluster (srun).

    python tools/run_pipeline.py CONFIG --work-dir DIR [--seed S] [--dry-run]
        [--with STAGE ...] [--variant STAGE=VARIANT ...] [--redo STAGE ...]
        [--until STAGE] [--cfg-options KEY=VALUE ...] [--data-root DIR]
        [--oracle] [--warmup {source_only,adversarial}]
        [--launcher {none,pytorch,slurm}] [--gpus N] [--gpus-per-node K]
        [--partition P]

(``python -m cpsl_mmseg.tools.run_pipeline ...`` without a checkout.) CONFIG holds
``uda_pipeline.stages`` (docs/pipeline.md): your own data's recipe
(``configs/your_data/``, docs/your_data.md), a paper recipe (``configs/pipelines/``)
or the lab's toy pipeline. Every stage writes ``DIR/<stage>/config.py`` (its config
plus the inputs it was given) and runs its tool on that file, in the current
directory; the command and the tool's output are in ``DIR/<stage>/<tool>.log``. Run the
same command again to continue: complete stages whose inputs did not change are
skipped, an interrupted training stage resumes from its last checkpoint. The run ends
with ``DIR/summary.json`` and ``DIR/summary.md``, which flag any stage that ended below
the network it started from. ``--dry-run`` prints each stage's config, commands,
inputs, outputs and checks, and runs and writes nothing.
"""
import argparse
from typing import List, Optional

from mmengine.config import DictAction

from cpsl_mmseg.pipeline import Launcher, Pipeline


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config with uda_pipeline.stages')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--seed', type=int, default=0,
                        help='training seed of every stage')
    parser.add_argument('--dry-run', action='store_true',
                        help='print every stage (config, commands, inputs, outputs, '
                        'checks) and exit without running or writing anything')
    parser.add_argument('--with', dest='optional', nargs='+', default=[],
                        metavar='STAGE', help='also run these optional stages')
    parser.add_argument('--variant', nargs='+', default=[], metavar='STAGE=VARIANT',
                        help='run a variant of a stage (see its config)')
    parser.add_argument('--redo', nargs='+', default=[], metavar='STAGE',
                        help='rerun these stages even if complete')
    parser.add_argument('--until', metavar='STAGE', help='stop after this stage')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='key=value options set in every stage\'s config (and in '
                        'the pipeline config)')
    parser.add_argument('--data-root', metavar='DIR',
                        help='REWRITE the data_root of every dataset of every stage '
                        '(source, target, val, test) to DIR; only for configs whose '
                        'datasets all live under one root (the toy tree). Without it '
                        'every dataset path is used as the configs write it')
    parser.add_argument('--oracle', action='store_true', help='= --with oracle')
    parser.add_argument('--warmup', choices=('source_only', 'adversarial'),
                        help='"adversarial" = --variant warmup=adversarial (the paper\'s '
                        'adversarial warm-up of the toy pipeline)')
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
                    until=args.until, cfg_options=args.cfg_options, launcher=launcher,
                    dry_run=args.dry_run)


def main(argv: Optional[List[str]] = None) -> None:
    pipeline_from_args(parse_args(argv)).execute()


if __name__ == '__main__':
    main()
