"""Faults on purpose, for the reliability tests, driven by environment variables.

Imported at interpreter start by ``tests/sitecustomize.py`` when a ``FAULT_*`` variable
is set and ``tests/`` is on PYTHONPATH, so any tool, launcher and config take part
unchanged:

* ``FAULT_KILL_IN_SAVE=N``: the N-th checkpoint file write stops half-way and the
  process kills itself with SIGKILL (a kill during a save, deterministically).
* ``FAULT_KILL_AT_ITER=K``: SIGKILL when training iteration K is about to run
  (iterations 0..K-1 done), only where the run's work dir contains
  ``FAULT_KILL_WORK_DIR`` (if set), only on rank ``FAULT_KILL_RANK`` (if set), and,
  with ``FAULT_KILL_ONCE=PATH``, only while PATH does not exist (it is created first).
* ``FAULT_KILL_IN_NPSAVE=N``: the N-th ``numpy.save`` (a P_ST map) stops half-way and
  the process kills itself with SIGKILL.
"""
import io
import os
import signal

import numpy as np
from mmengine.dist import get_rank
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.runner.loops import IterBasedTrainLoop


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _counted(name: str, counter: dict) -> bool:
    """Whether this call is the N-th that ``os.environ[name] == N`` asks to fail."""
    if name not in os.environ:
        return False
    counter['count'] += 1
    return counter['count'] == int(os.environ[name])


_original_put = LocalBackend.put
_puts = {'count': 0}


def _put_then_die(self, obj, filepath):
    if str(filepath).endswith(('.pth', '.tmp')) and _counted('FAULT_KILL_IN_SAVE', _puts):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
            os.fsync(f.fileno())
        _die()
    return _original_put(self, obj, filepath)


_original_np_save = np.save
_np_saves = {'count': 0}


def _np_save_then_die(file, arr, *args, **kwargs):
    if _counted('FAULT_KILL_IN_NPSAVE', _np_saves):
        buffer = io.BytesIO()
        _original_np_save(buffer, arr, *args, **kwargs)
        data = buffer.getvalue()
        file.write(data[:len(data) // 2])
        file.flush()
        _die()
    return _original_np_save(file, arr, *args, **kwargs)


_original_run_iter = IterBasedTrainLoop.run_iter


def _run_iter_or_die(self, data_batch):
    env = os.environ
    if ('FAULT_KILL_AT_ITER' in env and self._iter == int(env['FAULT_KILL_AT_ITER'])
            and env.get('FAULT_KILL_WORK_DIR', '') in self.runner.work_dir
            and int(env.get('FAULT_KILL_RANK', get_rank())) == get_rank()):
        once = env.get('FAULT_KILL_ONCE')
        if once is None or not os.path.exists(once):
            if once is not None:
                open(once, 'w').close()
            _die()
    return _original_run_iter(self, data_batch)


LocalBackend.put = _put_then_die
np.save = _np_save_then_die
IterBasedTrainLoop.run_iter = _run_iter_or_die
