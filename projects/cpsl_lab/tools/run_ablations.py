"""The paper's Table 3 ablations on any pipeline config, mean and std over seeds.

    python projects/cpsl_lab/tools/run_ablations.py CONFIG --work-dir DIR
        [--seeds 0 1 2] [--data-root DIR] [--only w/o-SL ...]

For every seed this first runs (or reuses) the whole ``tools/run_pipeline.py`` pipeline in
``DIR/seed<S>`` — warm-up, P_ST, prototypes, self-training, CPSL — then
trains one CPSL variant per Table 3 row from the same warm-up, P_ST and prototypes,
with exactly one switch changed (stage ``ablation_<row>`` of that seed's directory,
its ``config.py`` the CPSL stage's plus the switch; complete stages are skipped on
re-runs). The paper's w/o CB row is also split into its two halves (w/o CB-sampling:
uniform sampling, Eq. 10-11 prior; w/o CB-prior: Eq. 8-9 sampling, uniform prior), and
``true-prior`` is a diagnostic row, never a default: the true class distribution of
the toy tree's target train labels (its ``meta.json``) as a fixed Sinkhorn marginal,
an upper bound on what distribution alignment can give. Writes ``DIR/ablations.json`` and the table
``DIR/ablations.md`` (target-val mIoU, mean +- std over seeds, and the difference to
full CPSL).
"""
import argparse
import json
import os.path as osp
import statistics
from dataclasses import replace
from typing import Any, Dict, List, Optional

from cpsl_mmseg.pipeline import Launcher, Pipeline
from mmengine.config import Config, DictAction

# Table 3 rows: the config switches that turn each component off.
ABLATIONS: Dict[str, Dict[str, Any]] = {
    'w/o-SL': {'model.use_self_labeling': False},
    'w/o-CB': {'model.sampling': 'uniform', 'model.class_prior.mode': 'uniform'},
    'w/o-CB-sampling': {'model.sampling': 'uniform'},
    'w/o-CB-prior': {'model.class_prior.mode': 'uniform'},
    'true-prior': {'model.class_prior.mode': 'given'},  # + the tree's distribution
    'w/o-ST': {'model.use_self_training': False},
    'w/o-Init': {'model.init_head_from_prototypes': False},
    'w/o-Aug': {'model.use_strong_augmentation': False},
    'w/o-Mom': {'model.use_momentum': False},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--data-root', help='rewrite every dataset\'s data_root (see '
                        'tools/run_pipeline.py --data-root)')
    parser.add_argument('--warmup', default='source_only',
                        choices=('source_only', 'adversarial'),
                        help='warm-up of every seed (see run_pipeline.py)')
    parser.add_argument('--only', nargs='+', choices=list(ABLATIONS),
                        help='run only these rows')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    parser.add_argument('--launcher', default='none', choices=('none', 'pytorch', 'slurm'))
    parser.add_argument('--gpus', type=int, default=1)
    return parser.parse_args()


def true_target_distribution(config: str, data_root: Optional[str]) -> List[float]:
    """Pixel share per class of the toy tree's target train labels (``meta.json``)."""
    root = data_root or Config.fromfile(config).get('data_root')
    meta_file = osp.join(root or '', 'meta.json')
    if not osp.isfile(meta_file):
        raise FileNotFoundError(f'true-prior needs the toy tree\'s {meta_file} (pass '
                                '--data-root)')
    with open(meta_file) as f:
        counts = json.load(f)['splits']['target/train']['pixel_counts']
    return [c / sum(counts) for c in counts]


def row_options(args: argparse.Namespace, row: str) -> Dict[str, Any]:
    options = dict(ABLATIONS[row])
    if row == 'true-prior':
        options['model.class_prior.distribution'] = true_target_distribution(
            args.config, args.data_root)
    return options


def run_seed(args: argparse.Namespace, seed: int, rows: List[str]) -> dict:
    seed_dir = osp.join(args.work_dir, f'seed{seed}')
    launcher = Launcher(args.launcher, args.gpus)
    pipe = Pipeline(args.config, seed_dir, seed=seed, data_root=args.data_root,
                    variants=dict(warmup='adversarial') if args.warmup == 'adversarial'
                    else {}, cfg_options=args.cfg_options, launcher=launcher,
                    # keep an oracle that is there in the re-written summary
                    optional=['oracle'] if osp.isfile(
                        osp.join(seed_dir, 'oracle', 'stage.json')) else [])
    records = pipe.execute()
    results = {'CPSL': records['cpsl']['mIoU'],
               'self-training': records['self_training']['mIoU'],
               'source-only': records['warmup']['mIoU']}
    if 'calibration' in records:
        results['source-only + target BN'] = records['calibration']['mIoU']
    for row in rows:
        stage = 'ablation_' + row.replace('/', '').replace('-', '_')
        spec = replace(pipe.specs['cpsl'], name=stage, label=row,
                       options=row_options(args, row))
        pipe.specs[stage] = spec
        record = pipe.run_stage(spec)
        print(f'[ablations] seed {seed} {row}: mIoU {record["mIoU"]:.2f}')
        results[row] = record['mIoU']
    return results


def main() -> None:
    args = parse_args()
    rows = args.only or [row for row in ABLATIONS if row != 'true-prior']
    per_seed = {seed: run_seed(args, seed, rows) for seed in args.seeds}
    names = ['source-only', 'source-only + target BN', 'self-training', *rows,
             'CPSL']
    names = [n for n in names if all(n in r for r in per_seed.values())]
    table = {}
    for name in names:
        values = [per_seed[s][name] for s in args.seeds]
        table[name] = dict(
            values=values, mean=statistics.mean(values),
            std=statistics.stdev(values) if len(values) > 1 else 0.0)
    with open(osp.join(args.work_dir, 'ablations.json'), 'w') as f:
        json.dump(dict(config=args.config, seeds=args.seeds, rows=table), f,
                  indent=1)
    full = table['CPSL']['mean']
    lines = [f'Target-val mIoU over seeds {args.seeds} (`{args.config}`)', '',
             '| configuration | mIoU (mean +- std) | vs CPSL |', '|---|---|---|']
    for name in names:
        row = table[name]
        delta = '-' if name == 'CPSL' else f"{row['mean'] - full:+.1f}"
        lines.append(f"| {name} | {row['mean']:.1f} +- {row['std']:.1f} | "
                     f'{delta} |')
    with open(osp.join(args.work_dir, 'ablations.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
