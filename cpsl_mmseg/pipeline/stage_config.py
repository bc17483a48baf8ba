"""Stage config files: every pipeline stage runs from a config file of its own.

``DIR/<stage>/config.py`` inherits the stage's config and adds only the keys the
stage sets (its inputs: warm-up checkpoint, P_ST directory, statistics file; the
seed; the user's ``--cfg-options``; with ``--data-root`` every dataset's root; with
``uda_pipeline.share`` the pipeline config's datasets and segmentor), nested by
name::

    _base_ = ['/abs/path/configs/cpsl_....py']
    work_dir = '/runs/seed0/cpsl'
    model = {'warmup_checkpoint': '/runs/seed0/calibration/calibrated.pth'}
    custom_hooks = [{'type': 'MeanTeacherHook'},
                    {'type': 'OnlineClusteringHook', 'init_file': '...'}]

No key is addressed by a list index: a list that a stage changes (a pipeline, the
hooks) is written whole, its element found by type, so a config with another
transform order or another hook first still gets its inputs. Re-running a stage by
hand is ``python tools/train.py DIR/<stage>/config.py``.
"""
import copy
from typing import Any, Dict, List, Mapping, Optional

from mmengine.config import Config

from ..utils.config_files import plain, write_config

Settings = Dict[str, Any]


def deep_merge(base: Settings, extra: Mapping[str, Any]) -> Settings:
    """A copy of ``base`` with ``extra`` merged in, dicts recursively (as mmengine merges
    a child config into its base); any other value of ``extra`` replaces."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = plain(copy.deepcopy(value))
    return merged


def nested(path: str, value: Any) -> Settings:
    """``nested('a.b.c', 1) == {'a': {'b': {'c': 1}}}``."""
    for key in reversed(path.split('.')):
        value = {key: value}
    return value


def find_step(steps: List[Any], type_name: str) -> Optional[int]:
    """Index of the first element of ``steps`` whose ``type`` is ``type_name``."""
    for index, step in enumerate(steps):
        if isinstance(step, Mapping) and step.get('type') == type_name:
            return index
    return None


def with_step_values(steps: List[Any], type_name: str, where: str,
                     **values: Any) -> List[Any]:
    """A copy of ``steps`` (a pipeline, ``custom_hooks``) whose element of type
    ``type_name`` has ``values`` set.

    Raises:
        KeyError: naming ``where`` when no element has that type.
    """
    index = find_step(steps, type_name)
    if index is None:
        raise KeyError(f'{where} has no {type_name} (its types: '
                       f'{[s.get("type") for s in steps if isinstance(s, Mapping)]})')
    steps = plain(copy.deepcopy(list(steps)))
    steps[index].update(values)
    return steps


def option_settings(cfg: Config, options: Mapping[str, Any]) -> Settings:
    """``--cfg-options`` (dotted keys, mmengine's rules) as nested settings.

    An option whose path goes through a list element (``custom_hooks.0.x``) is written
    as that whole list, taken from ``cfg`` with every option applied.
    """
    applied = copy.deepcopy(cfg)
    applied.merge_from_dict(dict(options))
    settings: Settings = {}
    for key in options:
        parts = key.split('.')
        node: Any = applied
        for depth, part in enumerate(parts):
            if isinstance(node, list):
                prefix = '.'.join(parts[:depth])
                settings = deep_merge(settings, nested(prefix, plain(node)))
                break
            node = node[part]
        else:
            settings = deep_merge(settings, nested(key, plain(node)))
    return settings


def write_stage_config(path: str, base: str, settings: Settings, header: str) -> str:
    """Write ``path``: ``_base_ = [base]`` (absolute) and one assignment per top-level
    key of ``settings``, after ``header`` (comment lines). Written atomically."""
    return write_config(path, settings, header, base)
