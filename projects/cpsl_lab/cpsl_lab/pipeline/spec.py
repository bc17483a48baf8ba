"""The stages of a pipeline, as its config declares them (``uda_pipeline.stages``).

Each stage is a dict with a ``name``, a ``kind`` and the earlier stages it reads::

    uda_pipeline = dict(stages=[
        dict(name='warmup', kind='train', config='configs/warmup/adaptseg_....py',
             extract='student.', evaluate=True),
        dict(name='pseudo_labels', kind='pseudo_labels', network='warmup'),
        dict(name='prototypes', kind='prototypes', network='warmup',
             pseudo_labels='pseudo_labels'),
        dict(name='cpsl', kind='train', network='warmup', pseudo_labels='pseudo_labels',
             statistics='prototypes', evaluate=True),
        dict(name='kd1', kind='train', config='configs/distill/kd1_....py',
             teacher='cpsl', evaluate=True),
    ])

Kinds: ``train`` (``tools/train.py``; ``network`` sets ``model.warmup_checkpoint``,
``pseudo_labels`` the P_ST directory, ``statistics`` the init file of
``OnlineClusteringHook``, ``teacher`` ``model.teacher_checkpoint``; ``extract`` names
the prefix of the trained segmentor in its checkpoint), ``pseudo_labels``,
``prototypes``, ``bn_calibration``, ``toy_data`` and ``analysis`` (``runs``: the
training stages whose pseudo labels are analysed). ``config`` is relative to the
repository (default: the pipeline config itself). ``optional=True`` stages run only
when asked (``--with NAME``); ``variants`` are alternative settings of a stage chosen on
the command line (``--variant NAME=VARIANT``).
"""
from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

KINDS = ('toy_data', 'train', 'bn_calibration', 'pseudo_labels', 'prototypes', 'analysis')
# which kind of earlier stage each reference may name
REFERENCES = dict(network=('train', 'bn_calibration'), pseudo_labels=('pseudo_labels', ),
                  statistics=('prototypes', ), teacher=('train', ))


@dataclass(frozen=True)
class StageSpec:
    """One stage of ``uda_pipeline.stages`` (see the module docstring)."""

    name: str
    kind: str
    config: Optional[str] = None
    label: Optional[str] = None
    evaluate: bool = False
    network: Optional[str] = None
    pseudo_labels: Optional[str] = None
    statistics: Optional[str] = None
    teacher: Optional[str] = None
    extract: Optional[str] = None
    prepare: Optional[str] = None
    runs: Tuple[str, ...] = ()
    options: Dict[str, Any] = field(default_factory=dict)
    optional: bool = False
    variants: Dict[str, dict] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.label or self.name

    def references(self) -> List[Tuple[str, str]]:
        """(key, stage name) of every earlier stage this one reads."""
        refs = [(key, getattr(self, key)) for key in REFERENCES if getattr(self, key)]
        return refs + [('runs', run) for run in self.runs]


def parse_stages(stages: Sequence[dict], where: str = 'uda_pipeline.stages',
                 variants: Optional[Dict[str, str]] = None) -> List[StageSpec]:
    """The checked stage list, ``variants`` (``{stage: variant}``) applied.

    Raises:
        ValueError: naming ``uda_pipeline.stages[i]`` and the key at fault: an unknown
            kind or key, a repeated name, a reference to a stage that does not come
            earlier or is of the wrong kind, an unknown variant.
    """
    keys = {f.name for f in fields(StageSpec)}
    variants = dict(variants or {})
    specs: List[StageSpec] = []
    for index, entry in enumerate(stages):
        here = f'{where}[{index}]'
        unknown = set(entry) - keys
        if unknown:
            raise ValueError(f'{here}: unknown keys {sorted(unknown)} (known: {sorted(keys)})')
        if 'name' not in entry or 'kind' not in entry:
            raise ValueError(f'{here} needs a name and a kind')
        spec = StageSpec(**{k: (tuple(v) if k == 'runs' else v) for k, v in entry.items()})
        if spec.kind not in KINDS:
            raise ValueError(f'{here}.kind={spec.kind!r} is not one of {KINDS}')
        if spec.name in {s.name for s in specs}:
            raise ValueError(f'{here}.name={spec.name!r} is used twice')
        if spec.name in variants:
            variant = variants.pop(spec.name)
            if variant not in spec.variants:
                raise ValueError(f'{here}: no variant {variant!r} (its variants: '
                                 f'{sorted(spec.variants)})')
            spec = replace(spec, **spec.variants[variant])
        earlier = {s.name: s for s in specs}
        for key, ref in spec.references():
            allowed = REFERENCES.get(key, ('train', ))
            if ref not in earlier or earlier[ref].kind not in allowed:
                raise ValueError(f'{here}.{key}={ref!r}: no earlier stage of kind '
                                 f'{" or ".join(allowed)} has that name')
        specs.append(spec)
    if variants:
        raise ValueError(f'variants for stages that {where} does not have: {variants}')
    return specs
