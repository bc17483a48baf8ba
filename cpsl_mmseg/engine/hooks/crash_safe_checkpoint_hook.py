"""Checkpoints that survive a kill at any instant and resume exactly.

mmengine's ``CheckpointHook`` removes the oldest checkpoint before it writes the new
one, writes in place, and stores no random state: a kill during a save can leave no
loadable checkpoint, and a resumed run draws other CutMix boxes, samples and dropout
masks than the uninterrupted one. ``CrashSafeCheckpointHook`` keeps its options and
changes what happens at a save and at a resume.
"""
import os
import os.path as osp
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size, is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from ...models.utils.batch_norm import batch_norm_buffer_names
from .mean_teacher_hook import unwrap

RNG_KEY = 'rng_states'
RANK_LOCAL_KEY = 'rank_local_buffers'


def capture_rng_state() -> dict:
    """The global random states of this process: torch (and CUDA), numpy, random."""
    state = dict(torch=torch.get_rng_state(), numpy=np.random.get_state(),
                 python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Set the global random states captured by :func:`capture_rng_state`."""
    torch.set_rng_state(state['torch'])
    np.random.set_state(state['numpy'])
    random.setstate(state['python'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def write_atomically(path: str, text: str) -> None:
    """``path`` holds ``text`` or its previous content, never a part of it."""
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class _RestoreAfterReplay:
    """Wraps the train loop's data iterator on resume: mmengine replays ``skip``
    batches to reach the resumed iteration; right after them the random states of the
    checkpoint are restored and the loop gets its iterator back."""

    def __init__(self, loop, skip: int, state: dict) -> None:
        self.loop, self.inner, self.skip, self.state = loop, loop.dataloader_iterator, skip, state
        if skip == 0:
            self._restore()

    def _restore(self) -> None:
        restore_rng_state(self.state)
        self.loop.dataloader_iterator = self.inner

    def __iter__(self):
        return self

    def __next__(self):
        batch = next(self.inner)
        self.skip -= 1
        if self.skip == 0:
            self._restore()
        return batch


@HOOKS.register_module()
class CrashSafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) whose checkpoints survive kills and resume
    exactly.

    At a save (every rank takes part; rank 0 writes):

    1. every rank's random states (torch, CUDA, numpy, Python) go into the
       checkpoint under ``rng_states``, and under DDP every rank's own BatchNorm
       running statistics (``rank_local_buffers``: without SyncBN each rank keeps its
       own, and the model state rank 0 saves holds only rank 0's);
    2. the checkpoint is written to ``.<name>.tmp`` in the same folder, flushed to
       disk, and renamed to its name (atomic on POSIX);
    3. ``last_checkpoint`` is replaced atomically; it holds the file name relative to
       the work dir, so a moved work dir resumes from its own files (the path is
       resolved by ``cpsl_mmseg.compat``, for mmseg's ``tools/train.py`` too);
    4. only then are checkpoints beyond ``max_keep_ckpts`` removed.

    A kill at any instant therefore leaves the previous checkpoint, complete and
    named by ``last_checkpoint``, or the new one.

    At a resume each rank gets its own BN statistics back, and its random states are
    restored at the point the next iteration starts: after mmengine has replayed the
    data loader to the resumed iteration (which reproduces the data workers' random
    draws), before the first new batch is drawn. Validation during training saves and
    restores the random states around itself, so where and how often it runs does not
    change training.
    Checkpoints on other storage backends than local files are saved as mmengine
    does (no atomic rename).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._resumed_rng: Optional[dict] = None
        self._resumed_buffers: Optional[dict] = None
        self._for_save: dict = {}
        self._rng_before_val: Optional[dict] = None

    # ---------------------------------------------------------------- save
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.update(self._for_save)

    def _gather_rank_state(self, runner) -> dict:
        """Every rank's random states and, under DDP, BN statistics (all ranks call)."""
        states = capture_rng_state()
        if get_world_size() == 1:
            return {RNG_KEY: [states]}
        model = unwrap(runner.model)
        buffers = dict(model.named_buffers())
        local = {name: buffers[name].detach().cpu().clone()
                 for name in batch_norm_buffer_names(model)}
        return {RNG_KEY: all_gather_object(states),
                RANK_LOCAL_KEY: all_gather_object(local)}

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        self._for_save = self._gather_rank_state(runner)
        filename = self.filename_tmpl.format(step)
        tmp_name = f'.{filename}.tmp'
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        outdated = []  # the checkpoint records the ids kept once it is written
        if self.max_keep_ckpts > 0 and (not self.keep_ckpt_ids
                                        or self.keep_ckpt_ids[-1] != step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        runner.save_checkpoint(
            self.out_dir, tmp_name, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        self._for_save = {}
        if not is_main_process():
            return
        tmp_path = osp.join(self.out_dir, tmp_name)
        with open(tmp_path, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, self.last_ckpt)
        write_atomically(osp.join(runner.work_dir, 'last_checkpoint'),
                         osp.relpath(self.last_ckpt, runner.work_dir))
        for old_step in outdated:
            old = osp.join(self.out_dir, self.filename_tmpl.format(old_step))
            if osp.isfile(old) and old != self.last_ckpt:
                os.remove(old)

    # -------------------------------------------------------------- resume
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get(RNG_KEY)
        if states is None:
            return
        if len(states) != get_world_size():
            print_log(f'the checkpoint holds random states of {len(states)} ranks, this '
                      f'run has {get_world_size()}: random draws will not continue '
                      'exactly', logger='current', level=30)
            return
        self._resumed_rng = states[get_rank()]
        if RANK_LOCAL_KEY in checkpoint:
            self._resumed_buffers = checkpoint[RANK_LOCAL_KEY][get_rank()]

    def before_train_epoch(self, runner) -> None:
        super().before_train_epoch(runner)
        if self._resumed_buffers is not None:  # the model is loaded by now
            buffers = dict(unwrap(runner.model).named_buffers())
            with torch.no_grad():
                for name, value in self._resumed_buffers.items():
                    buffers[name].copy_(value)
            self._resumed_buffers = None
        if self._resumed_rng is not None:
            loop = runner.train_loop
            loop.dataloader_iterator = _RestoreAfterReplay(loop, runner.iter,
                                                           self._resumed_rng)
            self._resumed_rng = None

    # ---------------------------------------------------------- validation
    def before_val(self, runner) -> None:
        self._rng_before_val = capture_rng_state()

    def after_val(self, runner) -> None:
        if self._rng_before_val is not None:
            restore_rng_state(self._rng_before_val)
            self._rng_before_val = None
