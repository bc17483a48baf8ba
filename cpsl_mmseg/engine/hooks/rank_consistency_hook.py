"""A distributed-training guard: all ranks must hold the same model state."""
import hashlib
import json
import os.path as osp
from typing import Dict, List

import torch
import torch.distributed as torch_dist
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ...models.utils.batch_norm import batch_norm_buffer_names


def state_digests(module: torch.nn.Module) -> Dict[str, str]:
    """SHA-256 of every tensor of ``module.state_dict()`` (exact bytes)."""
    digests = {}
    for name, tensor in module.state_dict().items():
        data = tensor.detach().cpu().contiguous()
        if data.dtype == torch.bool:
            data = data.to(torch.uint8)
        digests[name] = hashlib.sha256(
            data.view(-1).view(torch.uint8).numpy().tobytes()).hexdigest()
    return digests


@HOOKS.register_module()
class RankConsistencyHook(Hook):
    """After training (and every ``interval`` iterations if set), check that every
    rank holds bit-identical parameters and buffers (weights, EMA teacher, memory
    bank, class prior, ...), BatchNorm running statistics excepted (per-rank by
    design without SyncBN).

    Each rank writes ``rank{R}_state_digest.json`` (per-tensor SHA-256 of the whole
    state dict, and the list of rank-local BN keys) into the work dir; a mismatch
    raises ``RuntimeError`` naming the first differing tensors. Single-process runs
    only write the file.

    Args:
        interval: also check every ``interval`` training iterations (0 = only at the
            end).
    """

    priority = 'LOWEST'

    def __init__(self, interval: int = 0) -> None:
        self.interval = interval

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self._check(runner)

    def after_train(self, runner) -> None:
        self._check(runner)

    def _check(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        digests = state_digests(model)
        rank_local = set(batch_norm_buffer_names(model))
        path = osp.join(runner.work_dir, f'rank{get_rank()}_state_digest.json')
        with open(path, 'w') as f:
            json.dump(dict(iter=runner.iter, digests=digests,
                           rank_local=sorted(rank_local)), f, indent=1)
        if get_world_size() == 1 or not torch_dist.is_initialized():
            return
        gathered: List[Dict[str, str]] = all_gather_object(digests)
        differing = [
            name for name in digests if name not in rank_local
            and any(other.get(name) != digests[name] for other in gathered)
        ]
        if differing:
            raise RuntimeError(
                f'ranks disagree at iteration {runner.iter} on '
                f'{len(differing)} tensors, e.g. {differing[:5]}')
        runner.logger.info(
            f'RankConsistencyHook: {get_world_size()} ranks agree on all '
            f'{len(digests) - len(rank_local)} shared state tensors at '
            f'iteration {runner.iter} ({len(rank_local)} BN statistics are '
            'per rank)')
