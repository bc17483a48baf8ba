"""Stage-to-stage checkpoint hand-off: read a file, select a sub-model, check it strictly.

The pipeline of the paper runs warm-up -> CPSL -> KD-1 -> KD-2, each stage starting
from files written by an earlier one (or by someone else: the self-supervised
student initialisation). The reference code once loaded ImageNet weights where the
self-supervised ones were named, silently. Here every hand-off goes through
:func:`load_checked`, which compares every tensor name and shape of the file with
the receiving module and refuses on any difference, naming the config key and the
file and counting loaded / missing / unexpected / mismatched tensors.
"""
import hashlib
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import torch
from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor, nn

StateDict = Dict[str, Tensor]
#: Keys under which checkpoints of various codebases keep their weights.
CONTAINER_KEYS = ('state_dict', 'model', 'model_state', 'net')
#: BatchNorm counters: torchvision files lack them, they carry no learned value.
OPTIONAL_SUFFIX = 'num_batches_tracked'


@dataclass
class LoadReport:
    """The outcome of comparing a file's tensors with a module's state dict."""

    path: str
    expected: int
    loaded: int = 0
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    ignored: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        """One line of counts, then a few example keys of every problem."""
        lines = [
            f'{self.path}: loaded {self.loaded}/{self.expected} tensors, '
            f'missing {len(self.missing)}, unexpected {len(self.unexpected)}, '
            f'shape mismatches {len(self.mismatched)}, ignored {self.ignored}'
        ]
        for name, keys in (('missing', self.missing),
                           ('unexpected', self.unexpected)):
            if keys:
                lines.append(f'  {name} (first 5): {keys[:5]}')
        for key, file_shape, model_shape in self.mismatched[:5]:
            lines.append(f'  shape of {key}: file {file_shape}, model {model_shape}')
        return '\n'.join(lines)


def file_digest(path: str, length: int = 16) -> str:
    """First ``length`` hex digits of the file's SHA-256 (logged, so that a run records
    exactly which weights it started from)."""
    sha = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            sha.update(chunk)
    return sha.hexdigest()[:length]


def read_state_dict(path: str, config_key: str) -> StateDict:
    """The tensors of a checkpoint file, with DataParallel ``module.`` prefixes removed.

    Accepts an mmengine checkpoint, a plain state dict, or one nested under any of
    :data:`CONTAINER_KEYS`.

    Raises:
        FileNotFoundError: naming ``config_key`` and ``path`` when the file is missing.
        ValueError: naming them when the file holds no dict of tensors.
    """
    if not path or not osp.isfile(path):
        raise FileNotFoundError(f'{config_key} not found: {path!r}')
    # mmengine's local loader (see cpsl_mmseg.compat for its trust assumption).
    obj = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    while isinstance(obj, dict) and not any(
            isinstance(v, Tensor) for v in obj.values()):
        key = next((k for k in CONTAINER_KEYS if k in obj), None)
        if key is None:
            break
        obj = obj[key]
    if not isinstance(obj, dict) or not any(
            isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f'{config_key}={path!r} holds no state dict of tensors '
                         f'(looked under {CONTAINER_KEYS})')
    state = {}
    for key, value in obj.items():
        if isinstance(value, Tensor):
            while key.startswith('module.'):
                key = key[len('module.'):]
            state[key] = value
    return state


def select_prefix(state: StateDict, prefix: str, path: str,
                  config_key: str) -> StateDict:
    """The tensors whose names start with ``prefix``, with the prefix removed.

    ``prefix=''`` returns ``state`` unchanged.

    Raises:
        ValueError: naming ``config_key`` and ``path`` when no name has the prefix.
    """
    if not prefix:
        return dict(state)
    selected = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not selected:
        heads = sorted({k.split('.', 1)[0] + '.' for k in state})
        raise ValueError(
            f'{config_key}={path!r} has no tensor named {prefix!r}...; its top-level '
            f'prefixes are {heads[:10]} (set the matching *_prefix, "" for a plain '
            'model file)')
    return selected


def compare_state_dict(model_state: StateDict, source: StateDict, path: str,
                       ignore: Sequence[str] = ()) -> LoadReport:
    """Name-by-name, shape-by-shape comparison of ``source`` with ``model_state``.

    Keys matching a regular expression of ``ignore`` are dropped from ``source``
    first (e.g. ``^fc\\.`` for an ImageNet classifier); BatchNorm
    ``num_batches_tracked`` counters may be absent on either side.
    """
    patterns = [re.compile(p) for p in ignore]
    kept = {k: v for k, v in source.items()
            if not any(p.search(k) for p in patterns)}
    report = LoadReport(
        path=path,
        expected=sum(1 for k in model_state if not k.endswith(OPTIONAL_SUFFIX)),
        ignored=len(source) - len(kept))
    for key, value in kept.items():
        if key not in model_state:
            if not key.endswith(OPTIONAL_SUFFIX):
                report.unexpected.append(key)
        elif tuple(value.shape) != tuple(model_state[key].shape):
            report.mismatched.append(
                (key, tuple(value.shape), tuple(model_state[key].shape)))
        elif not key.endswith(OPTIONAL_SUFFIX):
            report.loaded += 1
    report.missing = [
        k for k in model_state
        if k not in kept and not k.endswith(OPTIONAL_SUFFIX)
    ]
    return report


def check_fits(module: nn.Module, path: str, config_key: str, prefix: str = '',
               ignore: Sequence[str] = ()) -> Tuple[LoadReport, StateDict]:
    """Compare the ``prefix`` part of the file at ``path`` with ``module`` without
    loading it; returns the report and the selected tensors.

    Raises:
        FileNotFoundError / ValueError: see :func:`read_state_dict`, :func:`select_prefix`.
        ValueError: with :meth:`LoadReport.summary` when any tensor of the module is
            missing from the file, any (non-ignored) tensor of the file has no place
            in the module, or a shape differs.
    """
    source = select_prefix(read_state_dict(path, config_key), prefix, path,
                           config_key)
    report = compare_state_dict(module.state_dict(), source, path, ignore)
    if not report.ok:
        raise ValueError(
            f'{config_key} does not fit {type(module).__name__} (prefix '
            f'{prefix!r}); refusing to start. {report.summary()}')
    return report, source


def load_checked(module: nn.Module, path: str, config_key: str, prefix: str = '',
                 ignore: Sequence[str] = ()) -> LoadReport:
    """Load the ``prefix`` part of the file at ``path`` into ``module``, all or nothing
    (:func:`check_fits` first: on any difference nothing is loaded)."""
    report, source = check_fits(module, path, config_key, prefix, ignore)
    with torch.no_grad():
        for key, target in module.state_dict().items():
            if key in source:
                target.copy_(source[key])
    return report
