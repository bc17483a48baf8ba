"""The few shims the pinned stack (torch 2.13, mmengine 0.10.7) needs, in one place.

Applied once when :mod:`cpsl_mmseg` is imported (so also through a config's
``custom_imports``, before mmengine's ``Runner`` is built):

1. **Checkpoint loading under torch >= 2.6.** ``torch.load`` defaults to
   ``weights_only=True`` there, and mmengine checkpoints pickle training state
   (``HistoryBuffer``, numpy scalars, message hubs, ...), so ``--resume`` fails.
   Allow-listing those globals turned out to need ``builtins.getattr`` among others,
   which defeats the purpose of the safe loader. Instead, mmengine's *local-file*
   checkpoint loader (and only it) is re-registered to pass ``weights_only=False``.
   Trust assumption: a checkpoint file you pass to ``--resume``/``load_from`` is as
   trusted as the code you run; never load checkpoints from unknown sources.
   ``torch.load`` elsewhere in the process keeps torch's safe default.

2. **Resuming from a moved work dir.** ``CrashSafeCheckpointHook`` records the last
   checkpoint in ``last_checkpoint`` by its name relative to the work dir; mmengine's
   ``find_latest_checkpoint`` (what ``--resume`` without a path uses) is replaced by
   one that resolves that name, and an absolute path whose work dir was moved, against
   the work dir being resumed.

3. **Distributed training on CPU-only machines.** mmengine's ``pytorch`` and
   ``slurm`` launchers call ``torch.cuda.set_device`` and default to NCCL. When CUDA
   is unavailable the process group is created on ``gloo`` instead, and
   :class:`CPUAwareDistributedDataParallel` (registered in mmengine's
   ``MODEL_WRAPPERS``) wraps CPU modules without ``device_ids``; our tools select it
   automatically when CUDA is absent (see :func:`default_model_wrapper_cfg`).

4. **Formatting a config once per process.** mmengine formats ``Config.pretty_text``
   with yapf (about 1.4 s for a CPSL stage config on one core) every time it is asked:
   when the runner logs the config, when it dumps it to the work dir and in the meta
   of every checkpoint. The formatter is memoised on its input text, so the same
   config is formatted once; the text written is unchanged.
"""
import functools
import os
import os.path as osp
import subprocess
from typing import Any, Optional, Tuple

import torch
import torch.distributed as torch_dist
from mmengine.config import config as config_module
from mmengine.dist import utils as dist_utils
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS
from mmengine.runner import runner as runner_module
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = [
    'CPUAwareDistributedDataParallel', 'default_model_wrapper_cfg',
    'find_latest_checkpoint', 'load_local_checkpoint'
]


def load_local_checkpoint(filename: str, map_location: Any = None) -> Any:
    """mmengine's local checkpoint loader with ``weights_only=False`` (see module doc).

    Args:
        filename: path of an mmengine (or plain torch) checkpoint file.
        map_location: forwarded to :func:`torch.load`.

    Raises:
        FileNotFoundError: naming ``filename`` when it does not exist.
    """
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    return torch.load(filename, map_location=map_location, weights_only=False)


def find_latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``work_dir/last_checkpoint`` names, resolved against ``work_dir``.

    A relative name is joined to ``work_dir``; an absolute path that does not exist
    (the work dir was moved) falls back to the file of that name in ``work_dir``.
    Returns None when there is no ``last_checkpoint``.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return _original_find_latest_checkpoint(work_dir)
    with open(record) as f:
        recorded = f.read().strip()
    path = osp.join(work_dir, recorded)
    moved = osp.join(work_dir, osp.basename(recorded))
    return moved if not osp.isfile(path) and osp.isfile(moved) else path


def _init_cpu_process_group(backend: str, **kwargs) -> None:
    """Create the default process group on gloo from the torchrun environment."""
    if backend != 'gloo':
        # NCCL needs CUDA; gloo is the only backend every CPU build of torch has.
        backend = 'gloo'
    torch_dist.init_process_group(
        backend=backend,
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)


def _slurm_environment_to_torchrun(port: Optional[int]) -> None:
    """Fill the torchrun variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_*) from SLURM."""
    node_list = os.environ['SLURM_NODELIST']
    os.environ.setdefault('MASTER_PORT', str(port or 29500))
    if 'MASTER_ADDR' not in os.environ:
        addr = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
        os.environ['MASTER_ADDR'] = addr
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['LOCAL_RANK'] = os.environ['SLURM_LOCALID']


_original_find_latest_checkpoint = runner_module.find_latest_checkpoint
_original_init_pytorch = dist_utils._init_dist_pytorch
_original_init_slurm = dist_utils._init_dist_slurm


def _init_dist_pytorch(backend: str, init_backend: str = 'torch', **kwargs):
    if torch.cuda.is_available():
        return _original_init_pytorch(
            backend, init_backend=init_backend, **kwargs)
    return _init_cpu_process_group(backend, **kwargs)


def _init_dist_slurm(backend: str,
                     port: Optional[int] = None,
                     init_backend: str = 'torch',
                     **kwargs):
    if torch.cuda.is_available():
        return _original_init_slurm(
            backend, port=port, init_backend=init_backend, **kwargs)
    _slurm_environment_to_torchrun(port)
    return _init_cpu_process_group(backend, **kwargs)


@MODEL_WRAPPERS.register_module()
class CPUAwareDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that drops ``device_ids`` for CPU modules.

    mmengine's Runner always passes ``device_ids=[LOCAL_RANK]`` to DDP-type wrappers;
    torch's DDP rejects ``device_ids`` for modules whose parameters live on the CPU.
    On GPU modules this wrapper behaves exactly like its parent.
    """

    def __init__(self, module: torch.nn.Module, detect_anomalous_params=False,
                 **kwargs):
        first = next(module.parameters(), None)
        if first is None or first.device.type == 'cpu':
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(
            module=module,
            detect_anomalous_params=detect_anomalous_params,
            **kwargs)


def default_model_wrapper_cfg() -> Optional[dict]:
    """The wrapper our tools select for distributed runs: None (mmengine default) on
    CUDA machines, :class:`CPUAwareDistributedDataParallel` on CPU-only ones."""
    if torch.cuda.is_available():
        return None
    return dict(
        type='CPUAwareDistributedDataParallel', broadcast_buffers=False)


_original_format_code = config_module.FormatCode


@functools.lru_cache(maxsize=16)
def _format_code_once(text: str, style: Tuple[Tuple[str, Any], ...]) -> Tuple[str, bool]:
    return _original_format_code(text, style_config=dict(style))


def format_code(text: str, style_config: dict, **kwargs) -> Tuple[str, bool]:
    """yapf's ``FormatCode`` as mmengine's ``Config.pretty_text`` calls it, memoised."""
    if kwargs:
        return _original_format_code(text, style_config=style_config, **kwargs)
    return _format_code_once(text, tuple(sorted(style_config.items())))


def _apply() -> None:
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    runner_module.find_latest_checkpoint = find_latest_checkpoint
    dist_utils._init_dist_pytorch = _init_dist_pytorch
    dist_utils._init_dist_slurm = _init_dist_slurm
    config_module.FormatCode = format_code


_apply()
