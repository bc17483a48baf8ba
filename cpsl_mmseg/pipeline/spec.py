"""The stages of a pipeline, as its config declares them (``uda_pipeline.stages``;
``docs/pipeline.md`` documents every kind and key).

Each stage is a dict with a ``name``, a ``kind`` (:mod:`.kinds`) and the earlier
stages it reads::

    uda_pipeline = dict(stages=[
        dict(name='warmup', kind='train', config='configs/warmup/adaptseg_....py',
             extract='student.', evaluate=True),
        dict(name='pseudo_labels', kind='pseudo_labels', network='warmup'),
        dict(name='prototypes', kind='prototypes', network='warmup',
             pseudo_labels='pseudo_labels'),
        dict(name='cpsl', kind='train', network='warmup', pseudo_labels='pseudo_labels',
             statistics='prototypes', evaluate=True),
        dict(name='export', kind='export', network='cpsl', optional=True),
    ])

Keys of every kind: ``name``, ``kind``, ``config`` (the stage's config; relative paths
are relative to the current directory, as for mmseg's tools; default: the pipeline
config itself), ``label`` (its column in the summary), ``evaluate``, the references
``network`` / ``pseudo_labels`` / ``statistics`` / ``teacher``, ``options`` (dotted
config keys set in this stage's config), ``optional`` (runs only with ``--with NAME``)
and ``variants`` (alternative settings of the stage, ``--variant NAME=VARIANT``). Each
kind adds its own keys (:attr:`~.kinds.StageKind.keys`).
"""
import os.path as osp
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .kinds import REFERENCES, stage_kind


@dataclass(frozen=True)
class StageSpec:
    """One stage of ``uda_pipeline.stages`` (see the module docstring); ``settings``
    holds the keys of its kind (with their defaults)."""

    name: str
    kind: str
    config: Optional[str] = None
    label: Optional[str] = None
    evaluate: bool = False
    network: Optional[str] = None
    pseudo_labels: Optional[str] = None
    statistics: Optional[str] = None
    teacher: Optional[str] = None
    options: Dict[str, Any] = field(default_factory=dict)
    optional: bool = False
    variants: Dict[str, dict] = field(default_factory=dict)
    settings: Dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.label or self.name

    def references(self) -> List[Tuple[str, str, Tuple[str, ...]]]:
        """(key, stage name, kinds it may name) of every earlier stage this one reads."""
        refs = [(key, getattr(self, key), kinds) for key, kinds in REFERENCES.items()
                if getattr(self, key)]
        for key, kinds in stage_kind(self.kind).references.items():
            value = self.settings.get(key)
            names = [value] if isinstance(value, str) else list(value or ())
            refs += [(key, name, kinds) for name in names]
        return refs

    @property
    def start(self) -> Optional[str]:
        """The stage whose network this one starts from (``network``, else
        ``teacher``): what an adaptation stage is compared with."""
        return self.network or self.teacher


COMMON_KEYS = {f.name for f in fields(StageSpec)} - {'settings'}


def build_spec(entry: dict, here: str) -> StageSpec:
    """One checked stage from its dict (kind keys split off into ``settings``)."""
    if 'name' not in entry or 'kind' not in entry:
        raise ValueError(f'{here} needs a name and a kind')
    try:
        kind = stage_kind(entry['kind'])
    except KeyError as error:
        raise ValueError(f'{here}.kind: {error.args[0]}') from None
    unknown = set(entry) - COMMON_KEYS - set(kind.keys)
    if unknown:
        raise ValueError(f'{here}: unknown keys {sorted(unknown)} for kind '
                         f'{entry["kind"]!r} (known: {sorted(COMMON_KEYS | set(kind.keys))})')
    settings = dict(kind.keys, **{k: v for k, v in entry.items() if k in kind.keys})
    return StageSpec(settings=settings,
                     **{k: v for k, v in entry.items() if k in COMMON_KEYS})


def parse_stages(stages: Sequence[dict], where: str = 'uda_pipeline.stages',
                 variants: Optional[Dict[str, str]] = None) -> List[StageSpec]:
    """The checked stage list, ``variants`` (``{stage: variant}``) applied.

    Raises:
        ValueError: naming ``uda_pipeline.stages[i]`` and the key at fault: an unknown
            kind or key, a repeated name, a reference to a stage that does not come
            earlier or is of the wrong kind, an unknown variant.
    """
    variants = dict(variants or {})
    specs: List[StageSpec] = []
    for index, entry in enumerate(stages):
        here = f'{where}[{index}]'
        entry = dict(entry)
        name = entry.get('name')
        if name in variants:
            variant = variants.pop(name)
            if variant not in entry.get('variants', {}):
                raise ValueError(f'{here}: no variant {variant!r} (its variants: '
                                 f'{sorted(entry.get("variants", {}))})')
            entry.update(entry['variants'][variant])
        spec = build_spec(entry, here)
        if spec.name in {s.name for s in specs}:
            raise ValueError(f'{here}.name={spec.name!r} is used twice')
        earlier = {s.name: s for s in specs}
        for key, ref, allowed in spec.references():
            if ref not in earlier or earlier[ref].kind not in allowed:
                raise ValueError(f'{here}.{key}={ref!r}: no earlier stage of kind '
                                 f'{" or ".join(allowed)} has that name')
        specs.append(spec)
    if variants:
        raise ValueError(f'variants for stages that {where} does not have: {variants}')
    return specs


def stage_config_path(spec: StageSpec, index: int, pipeline_config: str) -> str:
    """The absolute path of a stage's config: ``config`` relative to the current
    directory (default: the pipeline config).

    Raises:
        FileNotFoundError: naming ``uda_pipeline.stages[index].config``.
    """
    if not spec.config:
        return pipeline_config
    path = osp.abspath(spec.config)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'uda_pipeline.stages[{index}].config={spec.config!r} of stage {spec.name!r}: '
            f'no such file ({path}; relative paths are relative to the current '
            "directory; write '{{ fileDirname }}/...' in the pipeline config for a path "
            'relative to the config file)')
    return path
