"""What a stage's config file sets over the stage's config (:mod:`.stage_config`), in
this order (later wins):

1. the per-class metric of its evaluation (``test_evaluator``);
2. with ``uda_pipeline.share``, the pipeline config's datasets and / or segmentor
   (:func:`shared_settings`);
3. with ``--data-root``, the ``data_root`` of every dataset (:func:`data_root_settings`;
   nothing else ever rewrites a dataset path);
4. the stage's ``options``;
5. its inputs from earlier stages, by name (:func:`input_settings`);
6. for training stages, its work dir, the seed and the user's ``--cfg-options``.
"""
from typing import Dict, Iterable, Optional

from mmengine.config import Config

from .stage_config import (Settings, deep_merge, find_step, nested, option_settings,
                           plain, with_step_values)

SHAREABLE = ('datasets', 'segmentor')


def dataset_keys(cfg: Config) -> Dict[str, str]:
    """The dotted keys of the datasets of ``cfg`` by role: ``source`` (a UDA config's
    source stream, or a plain config's training set), ``target`` (a UDA config's
    target stream), ``val``, ``test``."""
    keys = {}
    train = cfg.get('train_dataloader', {}).get('dataset')
    if train is not None and train.get('type') == 'UDADataset':
        keys.update(source='train_dataloader.dataset.source',
                    target='train_dataloader.dataset.target')
    elif train is not None:
        keys['source'] = 'train_dataloader.dataset'
    for role in ('val', 'test'):
        if cfg.get(f'{role}_dataloader', {}).get('dataset') is not None:
            keys[role] = f'{role}_dataloader.dataset'
    return keys


def lookup(cfg: Config, key: str):
    node = cfg
    for part in key.split('.'):
        node = node[part]
    return node


def network_key(cfg: Config) -> str:
    """Where the adapted network sits: ``model.segmentor`` of a UDA wrapper, else
    ``model``."""
    return 'model.segmentor' if 'segmentor' in cfg.model else 'model'


def shared_settings(cfg: Config, pipeline_cfg: Config, share: Iterable[str],
                    where: str) -> Settings:
    """``cfg`` (a stage's config) on the pipeline config's datasets and / or segmentor.

    ``'segmentor'``: the stage's network (:func:`network_key`) and its top-level
    ``data_preprocessor`` become the pipeline config's, whole. ``'datasets'``: each
    dataset of the stage becomes the pipeline config's dataset of the same role
    (:func:`dataset_keys`), whole, except its ``pipeline``: the stage keeps its own
    transforms.

    Raises:
        KeyError: naming ``where`` when the pipeline config lacks a dataset the stage
            has.
    """
    settings: Settings = {}
    if 'segmentor' in share:
        network = plain(lookup(pipeline_cfg, network_key(pipeline_cfg)))
        settings = nested(network_key(cfg), dict(network, _delete_=True))
        if 'data_preprocessor' in cfg and 'data_preprocessor' in pipeline_cfg:
            settings['data_preprocessor'] = dict(
                plain(pipeline_cfg.data_preprocessor), _delete_=True)
    if 'datasets' in share:
        provided = dataset_keys(pipeline_cfg)
        for role, key in dataset_keys(cfg).items():
            if role not in provided:
                raise KeyError(f'{where}: uda_pipeline.share has datasets, but the '
                               f'pipeline config has no {role} dataset for {key}')
            dataset = plain(lookup(pipeline_cfg, provided[role]))
            dataset.update(_delete_=True, pipeline=plain(lookup(cfg, key).pipeline))
            settings = deep_merge(settings, nested(key, dataset))
    return settings


def data_root_settings(cfg: Config, data_root: str) -> Settings:
    """``data_root`` of every dataset of ``cfg`` set to ``data_root`` (``--data-root``)."""
    settings: Settings = {}
    for key in dataset_keys(cfg).values():
        settings = deep_merge(settings, nested(f'{key}.data_root', data_root))
    return settings


def loads_p_st(cfg: Config) -> bool:
    """Whether the target stream of ``cfg`` reads stored P_ST."""
    target = cfg.get('train_dataloader', {}).get('dataset', {}).get('target')
    return target is not None and find_step(
        target.pipeline, 'LoadSoftPseudoLabel') is not None


def input_settings(pipe, spec, cfg: Config, base: str) -> Settings:
    """The inputs a stage reads from earlier stages, by name: ``network`` ->
    ``model.warmup_checkpoint``, ``teacher`` -> ``model.teacher_checkpoint``,
    ``pseudo_labels`` -> the P_ST loader's ``pseudo_label_dir``, ``statistics`` -> the
    ``init_file`` of ``OnlineClusteringHook``."""
    settings: Settings = {}
    if spec.network:
        settings = nested('model.warmup_checkpoint', pipe.output(spec.network, 'segmentor'))
    if spec.teacher:
        settings = deep_merge(settings, nested(
            'model.teacher_checkpoint', pipe.output(spec.teacher, 'checkpoint')))
    if spec.pseudo_labels:
        steps = cfg.train_dataloader.dataset.target.pipeline
        settings = deep_merge(settings, nested(
            'train_dataloader.dataset.target.pipeline', with_step_values(
                steps, 'LoadSoftPseudoLabel',
                f'{base}: train_dataloader.dataset.target.pipeline',
                pseudo_label_dir=pipe.output(spec.pseudo_labels, 'directory'))))
    if spec.statistics:
        settings['custom_hooks'] = with_step_values(
            cfg.custom_hooks, 'OnlineClusteringHook', f'{base}: custom_hooks',
            init_file=pipe.output(spec.statistics, 'file'))
    return settings


def stage_settings(pipe, spec, base: str, inputs: bool = True,
                   extra: Optional[Settings] = None) -> Settings:
    """Steps 1 to 5 of the module docstring for ``spec`` over ``base`` (its inputs
    only when ``inputs``), ``extra`` merged after the options."""
    cfg = Config.fromfile(base)
    settings: Settings = dict(test_evaluator=dict(type='SubsetIoUMetric'))
    if pipe.share and base != pipe.config:
        settings = deep_merge(settings, shared_settings(
            cfg, pipe.cfg, pipe.share, f'stage {spec.name!r} ({base})'))
    if pipe.data_root:
        settings = deep_merge(settings, data_root_settings(cfg, pipe.data_root))
    if spec.options:
        settings = deep_merge(settings, option_settings(cfg, spec.options))
    if extra:
        settings = deep_merge(settings, extra)
    if inputs:
        settings = deep_merge(settings, input_settings(pipe, spec, cfg, base))
    return settings
