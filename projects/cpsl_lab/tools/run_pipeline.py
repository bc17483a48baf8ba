"""The whole CPSL pipeline in one command, with the self-training baseline.

    python projects/cpsl_lab/tools/run_pipeline.py CONFIG --work-dir DIR [--seed S]
        [--data-root DIR] [--warmup {source_only,adversarial}] [--oracle]
        [--redo STAGE ...] [--cfg-options KEY=VALUE ...]

CONFIG is a CPSL config with a ``uda_pipeline`` entry (see
``projects/cpsl_lab/configs/toy/cpsl_deeplabv3plus_r18-tiny_toy-128x64.py``). Every
stage writes ``DIR/<stage>/config.py`` (its config plus the inputs it was given) and
runs its tool on that file; the command and the tool's output are in
``DIR/<stage>/<tool>.log``. Stages: data, warmup, calibration, pseudo_labels,
prototypes, self_training, cpsl, oracle (with ``--oracle``), analysis (see
``cpsl_lab.pipeline.runner``). A stage with ``DIR/<stage>/stage.json`` is complete
and skipped. The run ends with ``DIR/summary.json``, ``DIR/summary.md`` and figures.
"""
import argparse
from typing import List, Optional

from cpsl_lab.pipeline import Pipeline
from cpsl_lab.pipeline.runner import STAGES
from mmengine.config import DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='CPSL config with a uda_pipeline entry')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--data-root', help='override the config data_root')
    parser.add_argument('--seed', type=int, default=0,
                        help='training seed of every stage')
    parser.add_argument('--warmup', default='source_only',
                        choices=('source_only', 'adversarial'),
                        help='warm-up stage: source-only training (default) or '
                        "the paper's output-space adversarial training")
    parser.add_argument('--oracle', action='store_true',
                        help='also train the target oracle (upper bound)')
    parser.add_argument('--redo', nargs='+', default=[], choices=STAGES,
                        help='rerun these stages even if complete')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='extra key=value options for every training stage, '
                        'the warm-up and oracle included (use keys all stage '
                        'configs share, e.g. train_cfg.max_iters=...)')
    return parser.parse_args(argv)


def pipeline_from_args(args: argparse.Namespace) -> Pipeline:
    return Pipeline(args.config, args.work_dir, seed=args.seed, warmup=args.warmup,
                    data_root=args.data_root, oracle=args.oracle, redo=args.redo,
                    cfg_options=args.cfg_options)


def main(argv: Optional[List[str]] = None) -> None:
    pipeline_from_args(parse_args(argv)).execute()


if __name__ == '__main__':
    main()
