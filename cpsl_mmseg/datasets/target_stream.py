"""The deterministic full-image stream of a target dataset: every image once, whole, in
order, without augmentation.

This is what the offline steps around training see (soft pseudo labels P_ST, the
Eq. 7 / Eq. 10 statistics, and the lab's BN calibration and analysis): the training
pipeline's loading steps (transform types whose name starts with ``Load``, except
``LoadAnnotations``: target labels are never read for adaptation), then
``PackUDATargetInputs``. Random crops, flips and photometric views are dropped, so
the same images give the same statistics in every run and on every rank.
"""
import copy
from typing import List, Union

from mmcv.transforms import Compose
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS

from .transforms import LoadSoftPseudoLabel, PackUDATargetInputs

DatasetOrConfig = Union[dict, BaseDataset]


def _type_name(step) -> str:
    return step['type'] if isinstance(step, dict) else type(step).__name__


def loading_steps(pipeline: list, with_soft_labels: bool) -> list:
    """The steps of ``pipeline`` (configs or transform objects) that load data.

    ``LoadSoftPseudoLabel`` is kept only when ``with_soft_labels`` (P_ST must exist
    already); ``LoadAnnotations`` never.
    """
    kept = []
    for step in pipeline:
        name = _type_name(step)
        if not name.startswith('Load') or name == 'LoadAnnotations':
            continue
        if name == LoadSoftPseudoLabel.__name__ and not with_soft_labels:
            continue
        kept.append(step)
    return kept


def full_image_dataset(dataset: DatasetOrConfig,
                       with_soft_labels: bool = False) -> BaseDataset:
    """``dataset`` (a config or a built dataset) with the full-image pipeline.

    A built dataset is shallow-copied (its image list is shared, its own pipeline is
    left as it is); a config is built with the new pipeline.
    """
    if isinstance(dataset, dict):
        cfg = copy.deepcopy(dict(dataset))
        cfg['pipeline'] = loading_steps(cfg.get('pipeline', []), with_soft_labels) + [
            dict(type='PackUDATargetInputs')
        ]
        return DATASETS.build(cfg)
    transforms: List = loading_steps(dataset.pipeline.transforms, with_soft_labels)
    stream = copy.copy(dataset)
    stream.pipeline = Compose(transforms + [PackUDATargetInputs()])
    return stream
