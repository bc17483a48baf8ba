"""The pipeline's summary: ``summary.json`` (per stage: metrics, per-class IoU, wall
time; pseudo-label statistics), ``summary.md`` (the per-class table of the evaluated
stages) and, with an analysis stage, the figures (``class_distribution.png``, the
paper's Fig. 6; ``training_curves.png``)."""
import json
import os.path as osp
from typing import Dict, List

from ..analysis.figures import plot_class_distributions, plot_training_curves, read_scalars

RECORDED = ('mIoU', 'per_class_iou', 'aAcc', 'MPA', 'mIoU16', 'mIoU13', 'wall_time_s',
            'checkpoint', 'segmentor', 'variant')


def stage_label(pipe, stage: str) -> str:
    """Column name of a stage: its ``label``; a BN calibration is its network's
    label plus "+ target BN"."""
    spec = pipe.specs[stage]
    if spec.kind == 'bn_calibration' and not spec.label and spec.network:
        return f'{stage_label(pipe, spec.network)} + target BN'
    return spec.title


def table(pipe, records: Dict[str, dict], evaluated: List[str]) -> List[str]:
    """The per-class IoU table of the evaluated stages (markdown lines)."""
    classes = list(records[evaluated[0]]['per_class_iou'])
    lines = ['| class | ' + ' | '.join(stage_label(pipe, s) for s in evaluated) + ' |',
             '|---' * (len(evaluated) + 1) + '|']
    for name in classes:
        row = [f"{records[s]['per_class_iou'].get(name, float('nan')):.1f}"
               for s in evaluated]
        lines.append(f'| {name} | ' + ' | '.join(row) + ' |')
    lines.append('| **mIoU** | ' + ' | '.join(
        f"**{records[s]['mIoU']:.1f}**" for s in evaluated) + ' |')
    return lines


def write_summary(pipe, records: Dict[str, dict], wall_time: float) -> None:
    """summary.json, summary.md and, with an analysis stage, the figures."""
    evaluated = [s for s in records if 'mIoU' in records[s]]
    analyses = [s for s in records if pipe.specs[s].kind == 'analysis']
    analysis = records[analyses[0]]['pseudo_labels'] if analyses else {}
    summary = dict(
        config=pipe.config, seed=pipe.seed, data_root=pipe.data_root,
        variants=pipe.variants, pipeline_wall_time_s=wall_time,
        stages={s: {k: v for k, v in records[s].items() if k in RECORDED}
                for s in records},
        pseudo_labels={
            s: dict(kl_gt_to_pseudo=stats['kl_gt_to_pseudo'],
                    pseudo_label_miou=stats['pseudo_label']['mIoU'],
                    p_st_argmax_miou=stats['p_st_argmax']['mIoU'],
                    pseudo_distribution=stats['pseudo_distribution'],
                    gt_distribution=stats['gt_distribution'])
            for s, stats in analysis.items()
        })
    with open(osp.join(pipe.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)

    lines = [f'# CPSL pipeline summary (seed {pipe.seed})', '',
             f'Config: `{pipe.config}`; data: `{pipe.data_root}`; whole pipeline '
             f'{wall_time / 60:.1f} min (stages skipped as complete count as 0).', '']
    if evaluated:
        lines += table(pipe, records, evaluated)
    lines += ['', '| stage | wall time (s) |', '|---|---|']
    lines += [f"| {s} | {records[s]['wall_time_s']:.0f} |" for s in records]
    if analysis:
        lines += ['', '| pseudo labels | KL(GT \\|\\| pseudo) | pseudo-label mIoU |',
                  '|---|---|---|']
        lines += [f"| {stage_label(pipe, s)} | {stats['kl_gt_to_pseudo']:.4f} | "
                  f"{stats['pseudo_label']['mIoU']:.1f} |" for s, stats in analysis.items()]
        last = list(analysis)[-1]
        lines += ['', '![class distribution](class_distribution.png)',
                  '![training curves](training_curves.png)',
                  f'![qualitative]({analyses[0]}/{last}/qualitative.png)']
        distributions = {'ground truth': analysis[last]['gt_distribution']}
        distributions.update({stage_label(pipe, s): stats['pseudo_distribution']
                              for s, stats in analysis.items()})
        plot_class_distributions(
            list(records[evaluated[0]]['per_class_iou']), distributions,
            osp.join(pipe.work_dir, 'class_distribution.png'),
            'Pseudo-label class distribution on the target train set')
        plot_training_curves(
            {stage_label(pipe, s): read_scalars(pipe.train_dir(s))
             for s in evaluated if pipe.specs[s].kind == 'train'},
            osp.join(pipe.work_dir, 'training_curves.png'))
    with open(osp.join(pipe.work_dir, 'summary.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'[pipeline] summary: {osp.join(pipe.work_dir, "summary.md")}')
