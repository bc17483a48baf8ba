"""The hook that keeps CPSL's clustering statistics: initialised before training (Eq. 7,
Eq. 10), the class prior updated after every step (Eq. 11), and the class balance of
the self-labeling step reported."""
import json
import math
import os
import os.path as osp
from typing import List, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from ...clustering.diagnostics import bank_over_prior
from ...utils.class_balance_report import CLASS_BALANCE_FILE, finite_mean

from ..initial_statistics import compute_initial_statistics, load_statistics
from .mean_teacher_hook import unwrap


@HOOKS.register_module()
class OnlineClusteringHook(Hook):
    """Initialise and update CPSL's clustering statistics (Algorithm 1).

    * ``before_train``: unless the model's statistics were restored from a
      checkpoint, the Eq. 7 prototypes and the Eq. 10 class counts initialise the
      self-labeling head (both copies) and the class prior: read from ``init_file``
      (written by ``tools/compute_prototypes.py``), or computed by one pass over the
      full target images of the training ``UDADataset``
      (:mod:`cpsl_mmseg.engine.initial_statistics`).
    * ``after_train_iter``: the class-prior update of Eq. 11; logs the prior's drift
      (total variation distance from its value when this run started, i.e. after a
      resume from the restored prior), the memory bank's fill and how many classes
      hold rows in it, and every ``bank_log_interval`` iterations the bank's class
      make-up (and after the last iteration) (share of its rows per rectified label,
      the classes the Sinkhorn step
      of Eq. 6 clusters) and its class balance: per class, the bank's share over the
      prior's (below 1 the bank cannot give the class the mass Eq. 12 asks for) and
      the precision of the Sinkhorn assignments against the rows' rectified labels
      (:mod:`cpsl_mmseg.clustering.diagnostics`). Each report is also appended to
      ``<work_dir>/class_balance.json`` (rewritten atomically), which the pipeline
      summary reads; ``train/bank_over_prior_min`` and
      ``train/sinkhorn_precision_mean`` go to the training log every iteration.

    The EMA of the teacher and of the momentum head is ``MeanTeacherHook``'s job; a
    CPSL config lists both hooks (``configs/_base_/uda/cpsl.py``: ``cpsl_hooks``).

    Args:
        init_file: optional ``.pth`` with ``prototypes`` (C, D) and
            ``class_counts`` (C,).
        max_init_batches: cap on the batches of the initialisation pass (default:
            every target image).
        bank_log_interval: iterations between two logs of the bank's make-up.
    """

    priority = 'NORMAL'

    def __init__(self,
                 init_file: Optional[str] = None,
                 max_init_batches: Optional[int] = None,
                 bank_log_interval: int = 50) -> None:
        if bank_log_interval < 1:
            raise ValueError('OnlineClusteringHook: bank_log_interval must be >= 1, got '
                             f'{bank_log_interval}')
        self.init_file = init_file
        self.max_init_batches = max_init_batches
        self.bank_log_interval = bank_log_interval
        self._initial_prior: Optional[torch.Tensor] = None
        self._reports: List[dict] = []

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        if not callable(getattr(model, 'initialize_statistics', None)):
            raise TypeError('OnlineClusteringHook (custom_hooks) needs a CPSL model, '
                            f'got {type(model).__name__}')
        if bool(model.statistics_initialized):
            print_log('CPSL statistics restored from the checkpoint', logger='current')
        elif self.init_file is not None:
            stats = load_statistics(self.init_file, model.num_classes)
            model.initialize_statistics(stats['prototypes'], stats['class_counts'])
        else:
            dataset = runner.train_dataloader.dataset
            if not hasattr(dataset, 'target'):
                raise TypeError('OnlineClusteringHook needs train_dataloader.dataset to '
                                f'be a UDADataset, got {type(dataset).__name__}')
            prototypes, counts = compute_initial_statistics(
                model, dataset.target, runner.train_dataloader.batch_size,
                self.max_init_batches)
            model.initialize_statistics(prototypes, counts)
        self._initial_prior = model.class_prior().detach().clone()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        model = unwrap(runner.model)
        model.update_class_prior()
        prior = model.class_prior()
        drift = 0.5 * (prior - self._initial_prior.to(prior)).abs().sum()
        runner.message_hub.update_scalar('train/prior_drift', float(drift))
        if model.use_self_labeling:
            runner.message_hub.update_scalar('train/bank_fill',
                                             float(model.memory_bank.num_filled))
            shares = model.bank_class_shares()
            runner.message_hub.update_scalar('train/bank_classes', int((shares > 0).sum()))
            balance = self.class_balance(model)
            if balance is not None:
                runner.message_hub.update_scalar('train/bank_over_prior_min',
                                                 _finite_min(balance['bank_over_prior']))
                runner.message_hub.update_scalar('train/sinkhorn_precision_mean',
                                                 finite_mean(balance['precision']))
            # every bank_log_interval iterations, and after the last one
            if self.every_n_train_iters(runner, self.bank_log_interval) or \
                    runner.iter + 1 == runner.max_iters:
                self.log_bank_make_up(runner, shares)
                if balance is not None:
                    self.log_class_balance(runner, model, balance)

    @staticmethod
    def class_balance(model) -> Optional[dict]:
        """The last step's :attr:`CPSL.last_balance` as lists per class, with
        ``bank_over_prior`` and ``precision`` (NaN where undefined)."""
        last = model.last_balance
        if last is None:
            return None
        precision = torch.where(last['assigned'] > 0,
                                last['correct'] / last['assigned'].clamp(min=1),
                                torch.full_like(last['assigned'], float('nan')))
        return dict(bank_share=last['bank_share'].tolist(), prior=last['prior'].tolist(),
                    bank_over_prior=bank_over_prior(last['bank_share'],
                                                    last['prior']).tolist(),
                    assigned=last['assigned'].tolist(), precision=precision.tolist())

    def log_class_balance(self, runner, model, balance: dict) -> None:
        names = _class_names(runner, len(balance['prior']))
        listed = ', '.join(
            f'{name} {ratio:.2f}/{precision:.2f}' for name, ratio, precision in zip(
                names, balance['bank_over_prior'], balance['precision']))
        print_log(f'class balance at iter {runner.iter + 1} (bank share / prior share, '
                  f'Sinkhorn precision vs rectified labels): {listed}', logger='current')
        if not is_main_process():
            return
        self._reports.append(dict(iter=runner.iter + 1, classes=names,
                                  bank_fill=model.memory_bank.num_filled,
                                  bank_full=model.memory_bank.is_full, **balance))
        path = osp.join(runner.work_dir, CLASS_BALANCE_FILE)
        with open(path + '.tmp', 'w') as f:
            json.dump(self._reports, f, indent=1)
        os.replace(path + '.tmp', path)

    @staticmethod
    def log_bank_make_up(runner, shares: torch.Tensor) -> None:
        names = _class_names(runner, len(shares))
        listed = ', '.join(f'{name} {share:.4f}' for name, share in zip(names, shares))
        print_log(f'memory bank make-up (share of rows per rectified label) at iter '
                  f'{runner.iter + 1}: {listed}', logger='current')


def _class_names(runner, num_classes: int) -> List[str]:
    names = runner.train_dataloader.dataset.metainfo.get('classes')
    return list(names) if names else [str(c) for c in range(num_classes)]


def _finite_min(values: List[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return min(finite) if finite else float('nan')

