"""Reading a CPSL run's class-balance reports (``class_balance.json``, written by
``OnlineClusteringHook``) into a summary: per class, the bank's share over the prior's
and the Sinkhorn assignments' precision, averaged over the reports taken once the
bank was full (the last report if it never was)."""
import json
import math
import os.path as osp
from typing import List, Optional

CLASS_BALANCE_FILE = 'class_balance.json'


def read_class_balance(work_dir: str) -> Optional[List[dict]]:
    """The reports of a run's work dir, or None when it wrote none."""
    path = osp.join(work_dir, CLASS_BALANCE_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def finite_mean(values: List[float]) -> float:
    """Mean of the finite values (NaN marks a class without a value), NaN if none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float('nan')


def summarize_class_balance(reports: List[dict]) -> dict:
    """Per class (lists in class order): ``bank_over_prior`` and ``precision`` averaged
    over the full-bank reports, the ``prior`` of the last report, and ``reports``
    (how many were averaged) and ``bank_full`` (whether they came from a full bank)."""
    full = [r for r in reports if r.get('bank_full')]
    used = full or reports[-1:]
    classes = used[-1]['classes']
    return dict(
        classes=classes, reports=len(used), bank_full=bool(full),
        prior=used[-1]['prior'],
        bank_over_prior=[finite_mean([r['bank_over_prior'][c] for r in used])
                         for c in range(len(classes))],
        precision=[finite_mean([r['precision'][c] for r in used]) for c in range(len(classes))])


def class_balance_table(summary: dict, title: str) -> List[str]:
    """Markdown lines of :func:`summarize_class_balance`'s result."""
    when = (f'mean of {summary["reports"]} reports with a full bank' if summary['bank_full']
            else 'last report; the bank never filled')
    lines = [f'{title}: class balance of the self-labeling step ({when}). Bank/prior '
             'below 1: the bank holds fewer rows of the class than the Sinkhorn marginal '
             'asks for; precision: share of the rows Sinkhorn assigns to the class whose '
             'rectified label is that class.', '',
             '| class | prior share | bank share / prior share | Sinkhorn precision |',
             '|---|---|---|---|']
    for name, prior, ratio, precision in zip(summary['classes'], summary['prior'],
                                             summary['bank_over_prior'],
                                             summary['precision']):
        lines.append(f'| {name} | {prior:.4f} | {ratio:.2f} | {precision:.2f} |')
    return lines
