"""Pairing a labelled source stream with an unlabelled target stream."""
from typing import Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS

ConfigOrDataset = Union[dict, BaseDataset]


@DATASETS.register_module()
class UDADataset:
    """Each item is ``dict(source=<packed source sample>, target=<packed target>)``.

    The length and the sampler's indices are those of the source dataset (as in
    the paper's Algorithm 1, which loops over source images); the target sample of
    each item is drawn uniformly at random with numpy's global RNG, which mmengine
    seeds per worker and rank, so runs are reproducible for a given seed. The
    default ``pseudo_collate`` turns a batch into
    ``dict(source=dict(inputs=[...], data_samples=[...]), target=dict(...))``,
    which :class:`~cpsl_mmseg.models.UDADataPreProcessor` understands.

    Args:
        source: config (or instance) of the labelled source dataset.
        target: config (or instance) of the target dataset (its pipeline ends in
            ``PackUDATargetInputs``).
    """

    def __init__(self, source: ConfigOrDataset,
                 target: ConfigOrDataset) -> None:
        self.source = self._build(source, 'source')
        self.target = self._build(target, 'target')
        if len(self.target) == 0:
            raise ValueError('UDADataset.target is empty: check its data_root '
                             'and data_prefix')
        src_classes = self.source.metainfo.get('classes')
        tgt_classes = self.target.metainfo.get('classes')
        if src_classes is not None and tgt_classes is not None and tuple(
                src_classes) != tuple(tgt_classes):
            raise ValueError('UDADataset: source and target classes differ: '
                             f'{src_classes} vs {tgt_classes}')
        self.metainfo = self.source.metainfo

    @staticmethod
    def _build(cfg: ConfigOrDataset, key: str) -> BaseDataset:
        if isinstance(cfg, dict):
            return DATASETS.build(cfg)
        if hasattr(cfg, '__getitem__') and hasattr(cfg, '__len__'):
            return cfg
        raise TypeError(f'UDADataset.{key} must be a dataset config dict or a '
                        f'dataset, got {type(cfg)}')

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, idx: int) -> dict:
        target_idx = np.random.randint(len(self.target))
        return dict(source=self.source[idx], target=self.target[target_idx])
