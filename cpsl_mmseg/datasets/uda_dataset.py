"""Pairing a labelled source stream with an unlabelled target stream."""
from typing import Optional, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS

from .rare_class_sampling import RareClassSampler
from .sample_checks import CheckedSamplesMixin, check_sample

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
    which :class:`~cpsl_mmseg.models.UDADataPreProcessor` understands. Every sample
    is checked while loading (:mod:`.sample_checks`: label ids, label size), and an
    empty stream is refused when the dataset is built; each error names the file or
    the config key.

    With ``rare_class_sampling`` (DAFormer's RCS, :mod:`.rare_class_sampling`) the
    source sample of each item is drawn by class rarity instead: the sampler's index
    then only seeds the draw, together with numpy's global RNG (seeded per worker and
    rank by mmengine), so ranks whose numpy streams coincide (``num_workers=0``,
    ``diff_rank_seed=False``) still draw different images, and a run is reproducible
    for a given seed; the epoch length stays the source's length.

    Args:
        source: config (or instance) of the labelled source dataset.
        target: config (or instance) of the target dataset (its pipeline ends in
            ``PackUDATargetInputs``).
        rare_class_sampling: ``RareClassSampler`` kwargs, e.g. DAFormer's
            ``dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)`` with
            ``stats_file='class_stats.json'`` (the converters' file in the source's
            data_root; omitted: the counts are computed at build). Default None: off.
    """

    def __init__(self, source: ConfigOrDataset,
                 target: ConfigOrDataset,
                 rare_class_sampling: Optional[dict] = None) -> None:
        self.source = self._build(source, 'source')
        self.target = self._build(target, 'target')
        src_classes = self.source.metainfo.get('classes')
        tgt_classes = self.target.metainfo.get('classes')
        if src_classes is not None and tgt_classes is not None and tuple(
                src_classes) != tuple(tgt_classes):
            raise ValueError('UDADataset: source and target classes differ: '
                             f'{src_classes} vs {tgt_classes}')
        self.metainfo = self.source.metainfo
        # this package's datasets check their own samples
        self._unchecked = {name: not isinstance(getattr(self, name), CheckedSamplesMixin)
                           for name in ('source', 'target')}
        self.rare_class_sampler = None
        if rare_class_sampling is not None:
            key = 'train_dataloader.dataset.rare_class_sampling'
            try:
                self.rare_class_sampler = RareClassSampler(
                    self.source, **dict(rare_class_sampling), config_key=key)
            except TypeError as error:
                raise TypeError(f'{key}: {error}') from None

    @staticmethod
    def _build(cfg: ConfigOrDataset, key: str) -> BaseDataset:
        """Build one stream; an empty one is an error naming its config key and where
        it looked (mmengine's own error says only ``need at least one array``)."""
        where = f'train_dataloader.dataset.{key}'
        if isinstance(cfg, dict):
            dataset = DATASETS.build(dict(cfg, lazy_init=True))
            empty = ValueError(
                f'{where} has no samples: no image found under data_root='
                f'{cfg.get("data_root")!r}, data_prefix={cfg.get("data_prefix")}, '
                f'ann_file={cfg.get("ann_file", "")!r}')
            if cfg.get('lazy_init', False):
                return dataset
            try:
                dataset.full_init()  # mmengine fails on an empty list while packing it
            except ValueError:
                if getattr(dataset, 'data_list', None) == []:
                    raise empty from None
                raise
            if len(dataset) == 0:
                raise empty
            return dataset
        if hasattr(cfg, '__getitem__') and hasattr(cfg, '__len__'):
            if len(cfg) == 0:
                raise ValueError(f'{where} has no samples')
            return cfg
        raise TypeError(f'{where} must be a dataset config dict or a '
                        f'dataset, got {type(cfg)}')

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, idx: int) -> dict:
        target_idx = np.random.randint(len(self.target))
        if self.rare_class_sampler is None:
            source = self.source[idx]
        else:
            rng = np.random.default_rng([np.random.randint(2**31), idx])
            source = self.rare_class_sampler.sample(rng)
        item = dict(source=source, target=self.target[target_idx])
        for name, sample in item.items():
            if self._unchecked[name]:
                check_sample(sample, self.metainfo.get('classes'))
        return item
