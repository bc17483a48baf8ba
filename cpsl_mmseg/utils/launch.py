"""Launch helpers used by ``tools/train.py`` and ``tools/test.py``."""
import torch.distributed as torch_dist
from mmengine.config import Config

from ..compat import default_model_wrapper_cfg


def prepare_launch(cfg: Config) -> None:
    """Select the CPU-aware DDP wrapper for distributed runs on CPU-only machines.

    A ``model_wrapper_cfg`` already in the config is left untouched. The config's
    ``find_unused_parameters`` (mmengine's top-level switch) is carried over, since
    mmengine only honours it when it builds the default wrapper itself.
    """
    if cfg.get('launcher', 'none') == 'none' or cfg.get(
            'model_wrapper_cfg', None) is not None:
        return
    wrapper = default_model_wrapper_cfg()
    if wrapper is None:
        return
    wrapper['find_unused_parameters'] = cfg.get('find_unused_parameters',
                                                False)
    cfg.model_wrapper_cfg = wrapper


def finish_distributed() -> None:
    """Synchronise and tear down the process group, if any (clean exit on gloo)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
