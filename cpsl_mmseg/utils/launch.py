"""Launch helpers of the tools (``tools/train.py``, ``tools/test.py`` and the offline
inference tools)."""
import logging
import os
import sys

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.dist import init_dist

from ..compat import default_model_wrapper_cfg


def prepare_launch(cfg: Config) -> None:
    """Make distributed runs work on CPU-only machines.

    Without a ``model_wrapper_cfg`` the CPU-aware DDP wrapper is selected, carrying
    the config's ``find_unused_parameters`` (mmengine only honours that top-level
    switch when it builds the default wrapper itself). A wrapper the config names
    (e.g. ``MMSeparateDistributedDataParallel`` for GAN-style models) gets
    ``device_ids=None``, since mmengine's Runner would otherwise pass
    ``device_ids=[LOCAL_RANK]``, which torch's DDP rejects for CPU modules.
    Nothing changes on CUDA machines or single-process runs.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    wrapper = cfg.get('model_wrapper_cfg', None)
    if wrapper is None:
        wrapper = default_model_wrapper_cfg()
        wrapper['find_unused_parameters'] = cfg.get('find_unused_parameters',
                                                    False)
        cfg.model_wrapper_cfg = wrapper
    elif wrapper.get('type') != 'CPUAwareDistributedDataParallel':
        wrapper.setdefault('device_ids', None)


def start_distributed(launcher: str, local_rank: int = 0) -> str:
    """Join the process group of ``launcher`` (``none``: stay one process) with NCCL
    on CUDA machines and gloo on CPU ones; return the device this rank computes on."""
    if launcher != 'none':
        os.environ.setdefault('LOCAL_RANK', str(local_rank))
        init_dist(launcher, backend='nccl' if torch.cuda.is_available() else 'gloo')
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def finish_distributed() -> None:
    """The end of a distributed tool: synchronise, tear down the process group and end
    the process. Does nothing without a process group.

    The process ends with ``os._exit(0)`` after flushing the logs: with gloo, a rank
    occasionally aborted (SIGABRT, "terminate called without an active exception")
    while the interpreter finalised, after all work was done and written, when gloo's
    C++ threads still held tensors; the launcher then reported the whole run failed.
    Call it last, on success only.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
