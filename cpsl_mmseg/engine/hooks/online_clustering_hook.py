"""The hook that drives CPSL's online clustering state around each iteration."""
from typing import Optional

import torch
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar
from mmseg.registry import HOOKS
from torch.utils.data import DataLoader

from ...models.utils.prototypes import PrototypeAccumulator


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class OnlineClusteringHook(Hook):
    """Initialise and update CPSL's clustering state (Algorithm 1).

    * ``before_train``: unless the model's statistics were restored from a
      checkpoint, one pass over the target dataset of the training
      ``UDADataset`` (each rank its shard, in order) computes the Eq. 7 prototypes (teacher features, Y_ST = argmax P_ST) and the
      Eq. 10 class counts, summed over ranks, and initialises the self-labeling
      head (both copies) and the class prior. ``init_file`` (written by
      ``tools/compute_prototypes.py``) skips that pass.
    * ``after_train_iter``: EMA updates of the teacher and of the momentum head,
      then the class-prior update of Eq. 11; logs the prior's drift (total
      variation distance from its value when this run started, i.e. after a
      resume from the restored prior) and the memory bank's fill.

    Args:
        init_file: optional ``.pth`` with ``prototypes`` (C, D) and
            ``class_counts`` (C,).
        max_init_batches: cap on the batches of the initialisation pass (default:
            the whole target dataset).
    """

    priority = 'NORMAL'

    def __init__(self,
                 init_file: Optional[str] = None,
                 max_init_batches: Optional[int] = None) -> None:
        self.init_file = init_file
        self.max_init_batches = max_init_batches
        self._initial_prior: Optional[torch.Tensor] = None

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        if bool(model.statistics_initialized):
            print_log('CPSL statistics restored from the checkpoint',
                      logger='current')
        elif self.init_file is not None:
            stats = load_statistics(self.init_file, model.num_classes)
            model.initialize_statistics(stats['prototypes'],
                                        stats['class_counts'])
        else:
            loader = target_dataloader(runner.train_dataloader.dataset,
                                       runner.train_dataloader.batch_size)
            prototypes, counts = compute_initial_statistics(
                model, loader, self.max_init_batches)
            model.initialize_statistics(prototypes, counts)
        self._initial_prior = model.class_prior().detach().clone()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        model = unwrap(runner.model)
        model.momentum_update()
        model.update_class_prior()
        prior = model.class_prior()
        drift = 0.5 * (prior - self._initial_prior.to(prior)).abs().sum()
        runner.message_hub.update_scalar('train/prior_drift', float(drift))
        if getattr(model, 'use_self_labeling', False):
            runner.message_hub.update_scalar(
                'train/bank_fill', float(model.memory_bank.num_filled))


def load_statistics(path: str, num_classes: int) -> dict:
    """Read and check an ``init_file`` (names the file on any problem)."""
    try:
        stats = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(
            f'OnlineClusteringHook.init_file not found: {path}') from None
    for key in ('prototypes', 'class_counts'):
        if key not in stats:
            raise KeyError(f'{path} has no {key!r} entry (expected the output '
                           'of tools/compute_prototypes.py)')
    if stats['prototypes'].shape[0] != num_classes or stats[
            'class_counts'].shape != (num_classes, ):
        raise ValueError(
            f'{path}: prototypes {tuple(stats["prototypes"].shape)} / counts '
            f'{tuple(stats["class_counts"].shape)} do not match '
            f'{num_classes} classes')
    return stats


def target_dataloader(dataset, batch_size: int) -> DataLoader:
    """An in-order, rank-sharded loader over the target part of a ``UDADataset``.

    (A separate loader: iterating the training loader here would disturb the
    shared index generator of mmengine's ``InfiniteSampler``.)
    """
    target = getattr(dataset, 'target', None)
    if target is None:
        raise TypeError('OnlineClusteringHook needs train_dataloader.dataset to '
                        f'be a UDADataset, got {type(dataset).__name__}')
    return DataLoader(
        target,
        batch_size=batch_size,
        sampler=DefaultSampler(target, shuffle=False),
        collate_fn=pseudo_collate,
        num_workers=0)


@torch.no_grad()
def compute_initial_statistics(model, dataloader,
                               max_batches: Optional[int] = None):
    """Eq. 7 prototypes and Eq. 10 counts over ``dataloader`` (target batches).

    Every rank walks its own shard; sums are all-reduced. Returns
    (prototypes (C, D), class_counts (C,)).
    """
    num_batches = len(dataloader) if max_batches is None else min(
        max_batches, len(dataloader))
    accumulator = PrototypeAccumulator(
        model.num_classes, model.teacher.decode_head.conv_seg.in_channels)
    was_training = model.training
    model.eval()
    progress = ProgressBar(num_batches)
    for step, batch in enumerate(dataloader):
        if step >= num_batches:
            break
        data = model.data_preprocessor(batch, True)
        model.accumulate_initial_statistics(data['inputs'],
                                            data['data_samples'], accumulator)
        progress.update()
    print()
    model.train(was_training)
    accumulator.all_reduce()
    return accumulator.compute(), accumulator.counts
