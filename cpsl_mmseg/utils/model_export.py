"""The network that predicts, as a plain mmseg model (``tools/export_model.py``).

A UDA wrapper keeps the network it trains under ``student.`` (every wrapper) and the
mean teacher and CPSL keep the EMA teacher under ``teacher.``; ``model.predict_with``
(default ``'student'``) is the one their validation and test measure. Exported here:
that network's config alone (``model`` = the wrapper's ``model.segmentor``, with its
data preprocessor) with the keys inference and evaluation read, and its weights with
``meta.dataset_meta`` (classes, palette), which mmseg's ``init_model``,
``inference_model`` and ``MMSegInferencer`` take their class names from.
"""
import os
import os.path as osp
from typing import Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

from ..models.utils.stage_checkpoint import (compare_state_dict, file_digest,
                                             read_state_dict, select_prefix)
from .config_files import plain, write_config
from .offline_inference import segmentor_cfg

#: Top-level config keys an inference / evaluation config keeps (no training keys).
INFERENCE_KEYS = ('default_scope', 'custom_imports', 'test_pipeline', 'val_dataloader',
                  'test_dataloader', 'val_evaluator', 'test_evaluator', 'val_cfg',
                  'test_cfg', 'env_cfg', 'vis_backends', 'visualizer', 'log_processor',
                  'log_level', 'tta_model', 'tta_pipeline')
NETWORKS = ('student', 'teacher')


def predicting_network(cfg: Config, choice: Optional[str] = None) -> Tuple[str, str]:
    """``(name, prefix)`` of the network to export: ``choice`` (``'student'`` or
    ``'teacher'``) of a UDA wrapper, by default its ``model.predict_with``; a plain
    segmentor config exports its whole model, ``('segmentor', '')``.

    Raises:
        ValueError: for an unknown ``choice``, or a choice for a plain segmentor.
    """
    if choice is not None and choice not in NETWORKS:
        raise ValueError(f'--network must be one of {NETWORKS}, got {choice!r}')
    if 'segmentor' not in cfg.model:
        if choice not in (None, 'student'):
            raise ValueError(f'{cfg.filename}: model.type={cfg.model.type!r} is a plain '
                             f'segmentor: it has no {choice} network')
        return 'segmentor', ''
    name = choice or cfg.model.get('predict_with', 'student')
    return name, f'{name}.'


def checkpoint_meta(path: str) -> dict:
    """The ``meta`` dict of an mmengine checkpoint (empty for a bare state dict)."""
    checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    return dict(meta) if isinstance(meta, dict) else {}


def dataset_meta(cfg: Config, meta: dict) -> dict:
    """``classes`` and ``palette`` of the model: the checkpoint's ``dataset_meta``
    (mmengine stores the training set's), else the test set's metainfo.

    Raises:
        ValueError: naming the config when neither has classes.
    """
    stored = meta.get('dataset_meta') or {}
    if not stored.get('classes') and cfg.get('test_dataloader'):
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, lazy_init=True))
        stored = dataset.metainfo
    if not stored.get('classes'):
        raise ValueError(f'{cfg.filename}: no class names: the checkpoint has no '
                         'meta.dataset_meta and test_dataloader.dataset no classes')
    return dict(classes=list(stored['classes']),
                palette=[list(c) for c in stored.get('palette') or []] or None)


def inference_config(cfg: Config) -> dict:
    """The segmentor config of ``cfg`` (:func:`segmentor_cfg`) as ``model``, with the
    keys of :data:`INFERENCE_KEYS` that ``cfg`` has."""
    settings = dict(model=plain(segmentor_cfg(cfg)))
    settings.update({key: plain(cfg[key]) for key in INFERENCE_KEYS if key in cfg})
    return settings


def export_model(config: str, checkpoint: str, out_dir: str,
                 choice: Optional[str] = None) -> Tuple[str, str, str]:
    """Write ``out_dir/model.py`` and ``out_dir/model.pth`` (module docstring); the
    weights are checked against the exported model by tensor name and shape first.
    Returns (config path, checkpoint path, exported network name)."""
    cfg = Config.fromfile(config)
    name, prefix = predicting_network(cfg, choice)
    state = select_prefix(read_state_dict(checkpoint, 'CHECKPOINT'), prefix, checkpoint,
                          'CHECKPOINT')
    settings = inference_config(cfg)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    report = compare_state_dict(MODELS.build(settings['model']).state_dict(), state,
                                checkpoint)
    if not report.ok:
        raise ValueError(f'CHECKPOINT {checkpoint} ({name}) does not fit the model of '
                         f'{config}: {report.summary()}')
    meta = dict(dataset_meta=dataset_meta(cfg, checkpoint_meta(checkpoint)),
                network=name, source_checkpoint=osp.abspath(checkpoint),
                source_sha256=file_digest(checkpoint), source_config=osp.abspath(config))
    os.makedirs(out_dir, exist_ok=True)
    weights = osp.join(out_dir, 'model.pth')
    torch.save(dict(state_dict=state, meta=meta), weights + '.tmp')
    os.replace(weights + '.tmp', weights)
    header = (f'The {name} network of {osp.abspath(checkpoint)}\n(config '
              f'{osp.abspath(config)}), exported by tools/export_model.py: a plain mmseg '
              'config for\ninference and evaluation; its weights are model.pth.')
    exported = write_config(osp.join(out_dir, 'model.py'), settings, header)
    return exported, weights, name
