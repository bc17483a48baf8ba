"""The registry of stage kinds: what a stage's ``kind`` names.

The plug-in registers the kinds every recipe needs (``train``, ``bn_calibration``,
``pseudo_labels``, ``prototypes``, ``export``: :mod:`.stages`). Another package adds
its own by registering a :class:`StageKind` subclass in :data:`STAGE_KINDS` in a module
the pipeline config imports (``uda_pipeline.imports`` or ``custom_imports``), as the lab
does for its toy tree and pseudo-label analysis (``cpsl_lab.pipeline_stages``)::

    @STAGE_KINDS.register_module(name='my_kind')
    class MyKind(StageKind):
        keys = dict(my_key=None)          # stage keys of this kind, with defaults

        def run(self, pipe, spec):
            pipe.run(spec.name, 'my_package.my_tool', '--out', pipe.stage_dir(spec.name))
            return dict(directory=pipe.stage_dir(spec.name))

This module imports nothing of the runner, so registering a kind is cheap.
"""
import os.path as osp
from typing import Any, Dict, List, Tuple

from mmengine.registry import Registry

STAGE_KINDS = Registry('pipeline stage kind')

#: Which kinds of earlier stage each common reference key may name, and what it reads.
REFERENCES: Dict[str, Tuple[str, ...]] = dict(
    network=('train', 'bn_calibration'), pseudo_labels=('pseudo_labels', ),
    statistics=('prototypes', ), teacher=('train', ))
#: The P_ST directory's provenance file (its content changes with every rewrite).
PROVENANCE = 'pseudo_labels_meta.json'


class StageKind:
    """What one kind of stage does; subclasses are registered in :data:`STAGE_KINDS`.

    ``pipe`` is the :class:`~.runner.Pipeline` (paths, earlier outputs, tools, stage
    configs); ``spec`` the stage (:class:`~.spec.StageSpec`).

    Attributes:
        keys: stage keys of this kind beyond the common ones, with their defaults
            (read as ``spec.settings[key]``).
        references: keys of ``keys`` that name earlier stages (a name or a list of
            names), with the kinds they may name.
        checks_text: what the stage checks before and while it runs (``--dry-run``).
    """

    keys: Dict[str, Any] = {}
    references: Dict[str, Tuple[str, ...]] = {}
    checks_text: Tuple[str, ...] = ()

    def inputs(self, pipe, spec) -> List[str]:
        """The files this stage reads from earlier stages: a complete stage stays
        complete while their content is unchanged (:mod:`.records`)."""
        files = []
        if spec.network:
            files.append(pipe.output(spec.network, 'segmentor'))
        if spec.teacher:
            files.append(pipe.output(spec.teacher, 'checkpoint'))
        if spec.pseudo_labels:
            files.append(osp.join(pipe.output(spec.pseudo_labels, 'directory'),
                                  PROVENANCE))
        if spec.statistics:
            files.append(pipe.output(spec.statistics, 'file'))
        return files

    def checks(self, pipe, spec) -> List[str]:
        """What the stage checks (``--dry-run`` prints it)."""
        return list(self.checks_text)

    def outputs_valid(self, pipe, spec) -> bool:
        """False while the stage's outputs are being rewritten (it is then incomplete)."""
        return True

    def run(self, pipe, spec) -> dict:
        """Run the stage; return its record (outputs by name, metrics). Under
        ``pipe.dry_run`` the same calls only report what they would do."""
        raise NotImplementedError

    def summarize(self, pipe, records: Dict[str, dict], summary: dict,
                  lines: List[str]) -> None:
        """Add this kind's part to ``summary.json`` (``summary``) and ``summary.md``
        (``lines``); called once per kind present in the run."""


def stage_kind(name: str) -> StageKind:
    """An instance of the kind registered as ``name``.

    Raises:
        KeyError: listing the registered kinds.
    """
    kind = STAGE_KINDS.get(name)
    if kind is None:
        raise KeyError(f'no stage kind {name!r} (registered: {sorted(STAGE_KINDS.module_dict)}'
                       '; a kind of another package is registered by importing it: '
                       'uda_pipeline.imports)')
    return kind()
