"""Did a stage improve on the network it started from? Every evaluated stage that
starts from an earlier evaluated stage's network (``network``, else ``teacher``: the
BN calibration from the warm-up, self-training and CPSL from the calibrated warm-up,
KD-1 from CPSL) is compared with it on the target validation mIoU. A stage ending
more than :data:`TOLERANCE` below its start is flagged: at its end in the console
and the stage's ``train.log``, in ``stage.json`` and in ``summary.json`` /
``summary.md``, with what to check first (docs/pipeline.md, "When adaptation hurts").
"""
import json
import os.path as osp
from typing import Dict, List, Optional

from .records import read_record

#: mIoU points below the start that count as "below" (one rounding step of the
#: two-decimal mIoU: an exported copy of a network evaluates equal, not below).
TOLERANCE = 0.01
WHAT_TO_CHECK = (
    'the start network\'s pseudo labels: its target mIoU is what P_ST is worth '
    '(the analysis stage measures P_ST directly); with weak P_ST, self-training '
    'learns its mistakes',
    'learning rate and schedule: the validation mIoU of the training curve '
    '(DIR/<stage>/train/*/vis_data/scalars.json); falling from the first check on '
    'means too high a rate or too long a run for this data (lower optimizer.lr, '
    'fewer train_cfg.max_iters, or keep the best checkpoint)',
    'BN statistics: a network trained with BN on the source needs target statistics '
    '(a bn_calibration stage, then model.freeze_norm_statistics=True)',
    'the class prior and rare classes: compare the pseudo-label class shares with '
    "the target's (class_prior.mode='fixed' or 'uniform' when few target images "
    'make Eq. 11 drift)',
)


def read_metrics(path: str) -> dict:
    """``cpsl_mmseg.tools.test --metrics-json`` output as a stage record's metrics."""
    with open(path) as f:
        metrics = json.load(f)
    per_class = {k[4:]: v for k, v in metrics.items() if k.startswith('IoU.')}
    summary = {k: v for k, v in metrics.items() if not k.startswith(('IoU.', 'Acc.'))}
    return dict(summary, per_class_iou=per_class)


def comparison(start: str, start_record: Optional[dict], record: dict) -> dict:
    """``start_stage``, ``start_mIoU``, ``delta_vs_start`` and ``below_start`` of a
    stage's record against its start's (empty when either was not evaluated)."""
    if not start_record or 'mIoU' not in start_record or 'mIoU' not in record:
        return {}
    delta = record['mIoU'] - start_record['mIoU']
    return dict(start_stage=start, start_mIoU=start_record['mIoU'], delta_vs_start=delta,
                below_start=bool(delta < -TOLERANCE))


def start_comparison(pipe, spec, record: dict) -> dict:
    """:func:`comparison` of a stage with the stage it starts from."""
    if not spec.start:
        return {}
    start_record = pipe.records.get(spec.start) or read_record(pipe.stage_dir(spec.start))
    return comparison(spec.start, start_record, record)


def warning_lines(spec, start_label: str, record: dict) -> List[str]:
    """The warning of a stage below its start, and what to check first."""
    lines = [f'WARNING: adaptation hurt: stage {spec.name!r} ended at target mIoU '
             f'{record["mIoU"]:.2f}, {-record["delta_vs_start"]:.2f} below the '
             f'{record["start_mIoU"]:.2f} of {record["start_stage"]!r} ({start_label}) '
             'that it started from. Check first:']
    lines += [f'  {i}. {text}' for i, text in enumerate(WHAT_TO_CHECK, 1)]
    return lines + ['  (docs/pipeline.md, "When adaptation hurts")']


def warn_if_below_start(pipe, spec, record: dict) -> None:
    """Print the warning (and append it to the stage's ``train.log``) when the stage
    ended below its start."""
    if not record.get('below_start'):
        return
    start = pipe.specs.get(record['start_stage'])
    lines = warning_lines(spec, start.title if start else record['start_stage'], record)
    print('\n'.join(f'[pipeline] {spec.name}: {line}' for line in lines), flush=True)
    log = osp.join(pipe.stage_dir(spec.name), 'train.log')
    if osp.isfile(log):
        with open(log, 'a') as f:
            f.write('\n'.join(f'[pipeline] {line}' for line in lines) + '\n')


def comparisons(pipe, records: Dict[str, dict]) -> Dict[str, dict]:
    """:func:`comparison` of every stage of ``records`` with a start among them."""
    result = {}
    for name, record in records.items():
        spec = pipe.specs.get(name)
        start = spec.start if spec else None
        if start in records:
            compared = comparison(start, records[start], record)
            if compared:
                result[name] = compared
    return result
