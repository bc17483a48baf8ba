"""Aggregate toy pipeline runs (``tools/run_pipeline.py``) over seeds
against the README main job's targets.

    .venv/bin/python benchmarks/summarize_toy_runs.py work_dirs/toy_ablations/seed{0,1,2}

Reads each ``DIR/summary.json`` and prints markdown: target-val mIoU per stage and
seed with mean +- std, the mean IoU of the rarest third of classes (by ground-truth
pixel share on the target train set), KL(ground truth || pseudo-label class
distribution), the sum of the main job's stage wall times (the optional stages left
out; a pipeline resumed in pieces still counts every stage once;
``pipeline_wall_time_s`` of a resumed run counts only its last piece), each
adaptation stage's validation curve (target-val mIoU at every check, from the newest
``DIR/<stage>/train/*/vis_data/scalars.json``, as ``training_curves.png`` draws it)
and each target as met / not met: the README main job's, and with the spine stages
(``--with daformer mic cpsl_daformer cpsl_mic``) issue 20's. Writes nothing.
"""
import argparse
import json
import os.path as osp
import statistics
from typing import Dict, List, Tuple

from cpsl_lab.analysis.figures import read_scalars

STAGES = (('warmup', 'source-only'), ('calibration', 'source-only + target BN'),
          ('self_training', 'self-training'), ('cpsl', 'CPSL'),
          ('daformer', 'DAFormer spine'), ('mic', 'MIC spine'),
          ('cpsl_daformer', 'CPSL on DAFormer'), ('cpsl_mic', 'CPSL on MIC'),
          ('oracle', 'target oracle'))
# Each spine alone and CPSL on it (issue 20's targets).
SPINES = (('self_training', 'cpsl'), ('daformer', 'cpsl_daformer'), ('mic', 'cpsl_mic'))
ADAPTATION = tuple(stage for pair in SPINES for stage in pair)


def mean_std(values: List[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{statistics.mean(values):.2f} +- {std:.2f}'


# The stages of the README main job (no --with): the time target counts these only,
# not the optional ones (oracle, spines, A/Bs, sweeps) a run may also hold.
MAIN_JOB = ('data', 'warmup', 'calibration', 'pseudo_labels', 'prototypes',
            'self_training', 'cpsl', 'analysis')


def main_job_minutes(summary: dict) -> float:
    return sum(record['wall_time_s'] for stage, record in summary['stages'].items()
               if stage in MAIN_JOB) / 60


def rarest_third(summary: dict) -> List[str]:
    stats = summary['pseudo_labels']['cpsl']
    classes = list(summary['stages']['cpsl']['per_class_iou'])
    order = sorted(range(len(classes)), key=lambda i: stats['gt_distribution'][i])
    return [classes[i] for i in order[:max(1, len(classes) // 3)]]


def validation_curve(run_dir: str, stage: str) -> List[float]:
    """Target-val mIoU at each validation of the stage's training, in order."""
    return [r['mIoU'] for r in read_scalars(osp.join(run_dir, stage, 'train'))
            if 'mIoU' in r]


def spine_checks(runs: List[dict], curves: Dict[str, List[List[float]]],
                 miou: Dict[str, List[float]]) -> List[Tuple[str, bool]]:
    """Issue 20: the best spine alone (by mean) >= its start + 3 and never below the
    start at any check; CPSL on it >= the spine + 2 on the mean, ahead on every seed."""
    spines = [(alone, cpsl) for alone, cpsl in SPINES if alone in miou and cpsl in miou]
    if len(spines) < 2:
        return []
    alone, cpsl = max(spines, key=lambda pair: statistics.mean(miou[pair[0]]))
    start = miou['calibration']
    gain = statistics.mean(miou[alone]) - statistics.mean(start)
    above = all(min(c) >= s for c, s in zip(curves[alone], start) if c)
    margin = statistics.mean(miou[cpsl]) - statistics.mean(miou[alone])
    ahead = all(c > a for c, a in zip(miou[cpsl], miou[alone]))
    return [(f'best spine alone ({alone}, {gain:+.2f}) >= its start + 3 (mean)', gain >= 3),
            (f'{alone}: validation curve never below the start', above),
            (f'{cpsl} ({margin:+.2f}) >= {alone} + 2 (mean)', margin >= 2),
            (f'{cpsl} ahead of {alone} on every seed', ahead)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dirs', nargs='+', help='pipeline work dirs (one per seed)')
    args = parser.parse_args()
    runs = []
    for d in args.dirs:
        with open(osp.join(d, 'summary.json')) as f:
            runs.append(json.load(f))
    stages = [(k, n) for k, n in STAGES if all(k in r['stages'] for r in runs)]
    miou: Dict[str, List[float]] = {
        k: [r['stages'][k]['mIoU'] for r in runs] for k, _ in stages}
    curves = {k: [validation_curve(d, k) for d in args.dirs]
              for k, _ in stages if k in ADAPTATION}

    print('| seed | ' + ' | '.join(n for _, n in stages) + ' | main job stages (min) |')
    print('|---' * (len(stages) + 2) + '|')
    for r in runs:
        print(f"| {r['seed']} | " + ' | '.join(
            f"{r['stages'][k]['mIoU']:.2f}" for k, _ in stages) +
            f' | {main_job_minutes(r):.1f} |')
    print('| mean +- std | ' + ' | '.join(mean_std(miou[k]) for k, _ in stages)
          + ' | |')

    rare = rarest_third(runs[0])
    rare_iou = {k: [statistics.mean(r['stages'][k]['per_class_iou'][c]
                                    for c in rare) for r in runs]
                for k, _ in stages}
    print(f'\nRarest third ({", ".join(rare)}), mean IoU per seed:')
    for k, n in stages:
        print(f'- {n}: ' + ' / '.join(f'{v:.2f}' for v in rare_iou[k]) +
              f' (mean {statistics.mean(rare_iou[k]):.2f})')
    kl = {s: [r['pseudo_labels'][s]['kl_gt_to_pseudo'] for r in runs]
          for s in ('self_training', 'cpsl')}
    print('\nKL(GT || pseudo labels) per seed: self-training ' +
          ' / '.join(f'{v:.3f}' for v in kl['self_training']) + ', CPSL ' +
          ' / '.join(f'{v:.3f}' for v in kl['cpsl']))

    print('\nValidation curves (target-val mIoU at every check; start: + target BN):')
    for k, n in stages:
        if k in curves:
            print(f'- {n}: ' + ' | '.join(
                f'seed {r["seed"]} (start {s:.2f}): ' + ' '.join(f'{v:.1f}' for v in c)
                for r, s, c in zip(runs, miou['calibration'], curves[k])))

    mean = {k: statistics.mean(v) for k, v in miou.items()}
    checks = [
        ('main job <= 15 min (every run, sum of its stage times)',
         all(main_job_minutes(r) <= 15 for r in runs)),
        ('CPSL >= self-training + 3 (mean)',
         mean['cpsl'] >= mean['self_training'] + 3),
        ('CPSL >= source-only + 10 (mean)', mean['cpsl'] >= mean['warmup'] + 10),
        ('rarest third: CPSL > self-training (mean)',
         statistics.mean(rare_iou['cpsl']) >
         statistics.mean(rare_iou['self_training'])),
        ('KL: CPSL < self-training (every seed)',
         all(c < s for c, s in zip(kl['cpsl'], kl['self_training']))),
    ]
    if 'oracle' in mean:
        checks.insert(1, ('source-only <= 70% of oracle (mean)',
                          mean['warmup'] <= 0.7 * mean['oracle']))
    checks += spine_checks(runs, curves, miou)
    print('\nTargets:')
    for name, ok in checks:
        print(f"- {name}: {'met' if ok else 'NOT met'}")


if __name__ == '__main__':
    main()
