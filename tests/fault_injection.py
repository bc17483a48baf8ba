"""Faults on purpose, for the reliability tests: imported by a training subprocess
through ``custom_imports`` (with this folder on PYTHONPATH), configured by environment
variables so that a config stays a plain config.

* ``FAULT_KILL_IN_SAVE=N``: the N-th checkpoint file write stops half-way and the
  process kills itself with SIGKILL (a kill during a save, deterministically).
* ``FAULT_KILL_AT_ITER=K``: ``KillAtIterationHook`` kills the process with SIGKILL
  before iteration K starts (iterations 0..K-1 done).
* ``FAULT_KILL_RANK=R``: only rank R kills itself (default: every rank).
* ``FAULT_KILL_IN_NPSAVE=N``: the N-th ``numpy.save`` (a P_ST map) stops half-way and
  the process kills itself with SIGKILL.
"""
import io
import os
import signal

import numpy as np

from mmengine.dist import get_rank
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

_original_put = LocalBackend.put
_writes = {'count': 0}


def _this_rank_dies() -> bool:
    rank = os.environ.get('FAULT_KILL_RANK')
    return rank is None or int(rank) == get_rank()


def _put_then_die(self, obj, filepath):
    if 'FAULT_KILL_IN_SAVE' in os.environ and str(filepath).endswith(('.pth', '.tmp')):
        _writes['count'] += 1
        if _writes['count'] == int(os.environ['FAULT_KILL_IN_SAVE']):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
    return _original_put(self, obj, filepath)


LocalBackend.put = _put_then_die
_original_np_save = np.save
_np_saves = {'count': 0}


def _np_save_then_die(file, arr, *args, **kwargs):
    if 'FAULT_KILL_IN_NPSAVE' in os.environ:
        _np_saves['count'] += 1
        if _np_saves['count'] == int(os.environ['FAULT_KILL_IN_NPSAVE']):
            buffer = io.BytesIO()
            _original_np_save(buffer, arr, *args, **kwargs)
            data = buffer.getvalue()
            file.write(data[:len(data) // 2])
            file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    return _original_np_save(file, arr, *args, **kwargs)


np.save = _np_save_then_die


@HOOKS.register_module()
class KillAtIterationHook(Hook):
    """SIGKILL before iteration ``FAULT_KILL_AT_ITER`` (a crash mid-training)."""

    priority = 'VERY_HIGH'

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        target = os.environ.get('FAULT_KILL_AT_ITER')
        if target is not None and runner.iter == int(target) and _this_rank_dies():
            os.kill(os.getpid(), signal.SIGKILL)
