"""mIoU over all classes and over named class subsets, mean pixel accuracy and
per-class scores, in one mmseg metric.

The SYNTHIA->Cityscapes protocol reports mIoU over 16 classes (mIoU16) and over 13 of
them (mIoU13, without wall, fence and pole); the paper's supplement (Sec. 6.2) also
reports the mean pixel accuracy (MPA, Eq. 15-16). mmseg's ``IoUMetric`` returns only
``aAcc``/``mIoU``/``mAcc`` and prints the per-class table; this metric also returns
the subset means and every per-class value, so that tools can write per-class tables.
"""
import warnings
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from ..datasets.synthia import SYNTHIA_CLASSES

#: SYNTHIA->Cityscapes, 16 classes (mIoU16): Cityscapes' 19 without terrain, truck, train.
SYNTHIA16_CLASSES: Tuple[str, ...] = SYNTHIA_CLASSES
#: SYNTHIA->Cityscapes, 13 classes (mIoU13): the 16 without wall, fence and pole.
SYNTHIA13_CLASSES: Tuple[str, ...] = tuple(
    name for name in SYNTHIA16_CLASSES if name not in ('wall', 'fence', 'pole'))

#: Named presets for ``class_subsets`` (configs cannot import these constants).
CLASS_SUBSET_PRESETS: Dict[str, Dict[str, Tuple[str, ...]]] = dict(
    synthia=dict(mIoU16=SYNTHIA16_CLASSES, mIoU13=SYNTHIA13_CLASSES))

ClassSubsets = Dict[str, Tuple[str, ...]]


def _nanmean(values: np.ndarray) -> float:
    """Mean over the non-NaN entries (NaN when all are NaN), as mmseg summarises."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # mean of an all-NaN slice
        return float(np.nanmean(values))


def _percent(fraction: float) -> float:
    """A fraction as a plain float percentage rounded to 2 decimals (NaN stays NaN)."""
    return round(float(fraction) * 100, 2)


def _check_class_subsets(
        class_subsets: Union[None, str, Mapping[str, Sequence[str]]]) -> ClassSubsets:
    """Normalise the ``class_subsets`` argument to ``{metric_key: class names}``."""
    if class_subsets is None:
        return {}
    if isinstance(class_subsets, str):
        if class_subsets not in CLASS_SUBSET_PRESETS:
            raise KeyError(
                f'SubsetIoUMetric: class_subsets={class_subsets!r} is no known preset; '
                f'presets: {sorted(CLASS_SUBSET_PRESETS)}, or give a dict '
                'metric_key -> list of class names')
        return dict(CLASS_SUBSET_PRESETS[class_subsets])
    if not isinstance(class_subsets, Mapping):
        raise TypeError('SubsetIoUMetric: class_subsets must be a dict metric_key -> '
                        f'list of class names or a preset name, got {type(class_subsets)}')
    checked = {}
    for key, names in class_subsets.items():
        where = f'SubsetIoUMetric: class_subsets[{key!r}]'
        if not isinstance(key, str) or key in SubsetIoUMetric.RESERVED_KEYS \
                or key.startswith(SubsetIoUMetric.PER_CLASS_PREFIXES):
            raise KeyError(f'{where}: the key names the returned metric and must be a '
                           f'string other than {SubsetIoUMetric.RESERVED_KEYS} and not '
                           f'start with {SubsetIoUMetric.PER_CLASS_PREFIXES}')
        if isinstance(names, str) or not isinstance(names, Sequence) or not names:
            raise TypeError(f'{where} must be a non-empty list of class names, got {names!r}')
        if len(set(names)) != len(names):
            raise ValueError(f'{where} lists a class twice: {list(names)}')
        checked[key] = tuple(names)
    return checked


@METRICS.register_module()
class SubsetIoUMetric(IoUMetric):
    """IoU metric that also reports class-subset mIoUs, MPA and per-class values.

    Per class c, from the confusion counts p_cj summed over the whole split
    (p_cj = pixels of ground-truth class c predicted as j, ignore pixels excluded):
    IoU_c = p_cc / (sum_j p_cj + sum_j p_jc - p_cc) and the pixel accuracy
    PA_c = p_cc / sum_j p_cj (supplement Eq. 15). A class that is in neither the
    ground truth nor the prediction has IoU NaN; a class absent from the ground truth
    has PA NaN. As in mmseg, NaN classes are left out of every mean, so
    MPA = mean over the remaining classes of PA_c (Eq. 16 over the classes present).

    Returned keys (plain floats, percent, 2 decimals): everything ``IoUMetric`` returns (``aAcc``,
    ``mIoU``, ``mAcc``, plus ``mDice``/``mFscore`` if asked), ``MPA`` (equal to
    ``mAcc``, named as in the paper), one key per entry of ``class_subsets`` (mIoU
    over those classes), and per class ``IoU.<class name>`` and ``Acc.<class name>``
    (NaN where undefined).

    Args:
        class_subsets (dict | str, optional): ``{metric_key: [class names]}``, e.g.
            ``dict(mIoU16=[...], mIoU13=[...])``, or the name of a preset in
            :data:`CLASS_SUBSET_PRESETS` (``'synthia'`` gives mIoU16 and mIoU13).
            Names must be classes of the evaluated dataset (checked when the
            evaluator hands the metric its ``dataset_meta``).
        per_class (bool): Whether to return the per-class ``IoU.*``/``Acc.*`` keys.
            Defaults to True.
        **kwargs: Passed on to :class:`mmseg.evaluation.IoUMetric`
            (``ignore_index``, ``iou_metrics``, ``nan_to_num``, ``prefix``, ...).
    """

    RESERVED_KEYS = ('aAcc', 'mIoU', 'mAcc', 'mDice', 'mFscore', 'mPrecision',
                     'mRecall', 'MPA')
    PER_CLASS_PREFIXES = ('IoU.', 'Acc.')

    def __init__(self,
                 class_subsets: Union[None, str, Mapping[str, Sequence[str]]] = None,
                 per_class: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.class_subsets = _check_class_subsets(class_subsets)
        self.per_class = per_class

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Meta information of the evaluated dataset (``classes`` is required)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        """Set the dataset meta and check every subset class against its classes."""
        if dataset_meta is not None:
            self._subset_indices(dataset_meta['classes'])
        self._dataset_meta = dataset_meta

    def _subset_indices(self, classes: Sequence[str]) -> Dict[str, List[int]]:
        """Positions of each subset's classes in ``classes``; raises on unknown names."""
        position = {name: i for i, name in enumerate(classes)}
        indices = {}
        for key, names in self.class_subsets.items():
            unknown = [name for name in names if name not in position]
            if unknown:
                raise KeyError(
                    f'SubsetIoUMetric: class_subsets[{key!r}] names unknown class '
                    f'{unknown[0]!r}; the dataset classes are {tuple(classes)}')
            indices[key] = [position[name] for name in names]
        return indices

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute the metrics from the per-image area tuples of :meth:`process`.

        Args:
            results (list): One ``(intersect, union, pred, label)`` tuple of (C,)
                tensors per image, as returned by ``IoUMetric.intersect_and_union``.

        Returns:
            dict[str, float]: See the class docstring for the keys.
        """
        summary = super().compute_metrics(results)  # also logs mmseg's per-class table
        if self.format_only:
            return summary
        # mmseg's values are float32 percentages; return plain floats like ours.
        metrics = {key: round(float(value), 2) for key, value in summary.items()}
        # Sum the per-image areas in float64: exact pixel counts over any split size.
        areas = [torch.stack(area).double().sum(0) for area in zip(*results)]
        per_class = self.total_area_to_metrics(
            *areas, metrics=['mIoU'], nan_to_num=self.nan_to_num, beta=self.beta)
        iou, acc = per_class['IoU'], per_class['Acc']
        metrics['MPA'] = _percent(_nanmean(acc))
        for key, idx in self._subset_indices(self.dataset_meta['classes']).items():
            metrics[key] = _percent(_nanmean(iou[idx]))
        if self.per_class:
            for name, iou_c, acc_c in zip(self.dataset_meta['classes'], iou, acc):
                metrics[f'IoU.{name}'] = _percent(iou_c)
                metrics[f'Acc.{name}'] = _percent(acc_c)
        return metrics
