"""The pipeline's summary: ``summary.json`` (per stage: mIoU, per-class IoU, wall time;
pseudo-label statistics), ``summary.md`` (the per-class table) and the figures
(``class_distribution.png``, the paper's Fig. 6; ``training_curves.png``)."""
import json
import os.path as osp
from typing import Dict

from ..analysis.figures import plot_class_distributions, plot_training_curves, read_scalars

EVALUATED = ('warmup', 'calibration', 'self_training', 'cpsl', 'oracle')
LABELS = dict(warmup='source-only', calibration='source-only + target BN',
              self_training='self-training', cpsl='CPSL', oracle='target oracle')


def stage_label(records: Dict[str, dict], stage: str) -> str:
    """Column name of a stage (warm-up columns say which warm-up it was)."""
    label = LABELS[stage]
    if stage in ('warmup', 'calibration') and records['warmup'].get(
            'warmup') == 'adversarial':
        label = label.replace('source-only', 'adversarial warm-up')
    return label


def write_summary(pipe, records: Dict[str, dict],
                  wall_time: float) -> None:
    """summary.json, summary.md and the figures."""
    classes = list(pipe.cfg.get('metainfo', {}).get('classes', [])) or list(
        records['cpsl']['per_class_iou'])
    evaluated = [s for s in EVALUATED if s in records]
    analysis = records['analysis']['pseudo_labels']
    summary = dict(
        config=pipe.config, seed=pipe.seed, data_root=pipe.data_root,
        warmup=records['warmup'].get('warmup', 'source_only'),
        pipeline_wall_time_s=wall_time,
        stages={s: {k: records[s][k] for k in records[s]
                    if k in ('mIoU', 'per_class_iou', 'aAcc', 'MPA',
                             'wall_time_s', 'train_time_s', 'checkpoint')}
                for s in records},
        pseudo_labels={
            s: dict(kl_gt_to_pseudo=analysis[s]['kl_gt_to_pseudo'],
                    pseudo_label_miou=analysis[s]['pseudo_label']['mIoU'],
                    p_st_argmax_miou=analysis[s]['p_st_argmax']['mIoU'],
                    pseudo_distribution=analysis[s]['pseudo_distribution'],
                    gt_distribution=analysis[s]['gt_distribution'])
            for s in analysis
        })
    with open(osp.join(pipe.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)

    lines = [f'# CPSL pipeline summary (seed {pipe.seed})', '',
             f'Config: `{pipe.config}`; data: `{pipe.data_root}`; '
             f'whole pipeline {wall_time / 60:.1f} min (stages skipped as '
             'complete count as 0).', '',
             '| class | ' + ' | '.join(stage_label(records, s)
                                       for s in evaluated) + ' |',
             '|---' * (len(evaluated) + 1) + '|']
    for name in classes:
        row = [f"{records[s]['per_class_iou'].get(name, float('nan')):.1f}"
               for s in evaluated]
        lines.append(f'| {name} | ' + ' | '.join(row) + ' |')
    lines.append('| **mIoU** | ' + ' | '.join(
        f"**{records[s]['mIoU']:.1f}**" for s in evaluated) + ' |')
    lines += ['', '| stage | wall time (s) |', '|---|---|']
    lines += [f"| {s} | {records[s]['wall_time_s']:.0f} |" for s in records]
    lines += ['', '| pseudo labels | KL(GT \\|\\| pseudo) | pseudo-label mIoU |',
              '|---|---|---|']
    for s in analysis:
        lines.append(f"| {LABELS[s]} | {analysis[s]['kl_gt_to_pseudo']:.4f} | "
                     f"{analysis[s]['pseudo_label']['mIoU']:.1f} |")
    lines += ['', '![class distribution](class_distribution.png)',
              '![training curves](training_curves.png)',
              '![CPSL qualitative](analysis/cpsl/qualitative.png)', '']
    with open(osp.join(pipe.work_dir, 'summary.md'), 'w') as f:
        f.write('\n'.join(lines))

    plot_class_distributions(
        classes, {
            'ground truth': analysis['cpsl']['gt_distribution'],
            'self-training': analysis['self_training']['pseudo_distribution'],
            'CPSL': analysis['cpsl']['pseudo_distribution'],
        }, osp.join(pipe.work_dir, 'class_distribution.png'),
        'Pseudo-label class distribution on the target train set')
    plot_training_curves(
        {stage_label(records, s): read_scalars(pipe.train_dir(s))
         for s in evaluated if s != 'calibration'},
        osp.join(pipe.work_dir, 'training_curves.png'))
    print(f'[pipeline] summary: {osp.join(pipe.work_dir, "summary.md")}')
