"""The pipeline's summary: ``summary.json`` (per stage: metrics, per-class IoU, wall
time, the comparison with the network it started from) and ``summary.md`` (the
per-class table of the evaluated stages, the change of each adaptation stage over its
start with a warning where it ended below it, wall times). Each stage kind present
adds its own part (:meth:`~.kinds.StageKind.summarize`: the lab's analysis adds
pseudo-label statistics and figures)."""
import json
import os.path as osp
from typing import Dict, List

from .adaptation import WHAT_TO_CHECK, comparisons
from .kinds import stage_kind

RECORDED = ('mIoU', 'per_class_iou', 'aAcc', 'MPA', 'mIoU16', 'mIoU13', 'wall_time_s',
            'config', 'checkpoint', 'segmentor', 'variant', 'network')


def stage_label(pipe, stage: str) -> str:
    """Column name of a stage: its ``label``; a BN calibration is its network's
    label plus "+ target BN"."""
    spec = pipe.specs[stage]
    if spec.kind == 'bn_calibration' and not spec.label and spec.network:
        return f'{stage_label(pipe, spec.network)} + target BN'
    return spec.title


def table(pipe, records: Dict[str, dict], evaluated: List[str],
          compared: Dict[str, dict]) -> List[str]:
    """The per-class IoU table of the evaluated stages (markdown lines), with the
    change over each stage's start."""
    classes = list(records[evaluated[0]]['per_class_iou'])
    lines = ['| class | ' + ' | '.join(stage_label(pipe, s) for s in evaluated) + ' |',
             '|---' * (len(evaluated) + 1) + '|']
    for name in classes:
        row = [f"{records[s]['per_class_iou'].get(name, float('nan')):.1f}"
               for s in evaluated]
        lines.append(f'| {name} | ' + ' | '.join(row) + ' |')
    lines.append('| **mIoU** | ' + ' | '.join(
        f"**{records[s]['mIoU']:.1f}**" for s in evaluated) + ' |')
    if compared:
        lines.append('| vs start | ' + ' | '.join(
            (f"{compared[s]['delta_vs_start']:+.1f}" + (' **below**' if compared[s][
                'below_start'] else '')) if s in compared else '' for s in evaluated)
            + ' |')
    return lines


def adaptation_lines(pipe, compared: Dict[str, dict]) -> List[str]:
    """Each stage against its start; the warning and what to check when below."""
    if not compared:
        return []
    lines = ['', '## Each stage against the network it started from', '']
    for stage, item in compared.items():
        end = item['start_mIoU'] + item['delta_vs_start']
        lines.append(f"- {stage_label(pipe, stage)} (`{stage}`): "
                     f"{item['start_mIoU']:.2f} -> {end:.2f}"
                     f" target mIoU ({item['delta_vs_start']:+.2f} over "
                     f"{stage_label(pipe, item['start_stage'])})"
                     + (' **ended below its start**' if item['below_start'] else ''))
    if any(item['below_start'] for item in compared.values()):
        lines += ['', '**Adaptation hurt** in the stages marked above. Check first:', '']
        lines += [f'{i}. {text}' for i, text in enumerate(WHAT_TO_CHECK, 1)]
        lines += ['', 'More in docs/pipeline.md, "When adaptation hurts".']
    return lines


def write_summary(pipe, records: Dict[str, dict], wall_time: float) -> None:
    """summary.json and summary.md (and whatever the stage kinds add)."""
    evaluated = [s for s in records if 'mIoU' in records[s]]
    compared = comparisons(pipe, records)
    summary = dict(
        config=pipe.config, seed=pipe.seed, data_root=pipe.data_root,
        variants=pipe.variants, pipeline_wall_time_s=wall_time,
        stages={s: dict({k: v for k, v in records[s].items() if k in RECORDED},
                        **compared.get(s, {})) for s in records},
        below_start=[s for s, item in compared.items() if item['below_start']])
    lines = [f'# CPSL pipeline summary (seed {pipe.seed})', '',
             f'Config: `{pipe.config}`; whole pipeline {wall_time / 60:.1f} min (stages '
             'skipped as complete count as 0).', '']
    if evaluated:
        lines += table(pipe, records, evaluated, compared)
    lines += adaptation_lines(pipe, compared)
    lines += ['', '| stage | wall time (s) |', '|---|---|']
    lines += [f"| {s} | {records[s]['wall_time_s']:.0f} |" for s in records]
    for kind in dict.fromkeys(pipe.specs[s].kind for s in records):
        stage_kind(kind).summarize(pipe, records, summary, lines)
    with open(osp.join(pipe.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    with open(osp.join(pipe.work_dir, 'summary.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'[pipeline] summary: {osp.join(pipe.work_dir, "summary.md")}')
