"""Nothing lost when a run is killed: checkpoints survive a kill during the save (and
a moved work dir resumes from its own files), and ``--resume`` continues exactly:
every tensor of the final checkpoint (weights, buffers, optimizer state) equals an
uninterrupted run's, on one process without data workers and on two gloo processes
with one worker each."""
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
CONFIG = 'configs/smoke/cpsl_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'
MAX_ITERS = 6


def run_config(tmp_path: Path, name: str,
               checkpoint_type: str = 'CrashSafeCheckpointHook') -> Path:
    """A config over the smoke CPSL config: a checkpoint every iteration, one kept."""
    path = tmp_path / f'{name}.py'
    path.write_text(
        f"_base_ = ['{REPO / CONFIG}']\n"
        f"default_hooks = dict(checkpoint=dict(_delete_=True, type='{checkpoint_type}',\n"
        "    by_epoch=False, interval=1, max_keep_ckpts=1))\n"
        f"train_cfg = dict(max_iters={MAX_ITERS}, val_interval=3)\n"
        f"param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0,\n"
        f"                        end={MAX_ITERS}, by_epoch=False)]\n")
    return path


def train(config: Path, work_dir: Path, options, *extra_args, procs: int = 1, env=None,
          expect_ok: bool = True, port: int = 29561) -> subprocess.CompletedProcess:
    base = [sys.executable, 'tools/train.py']
    if procs > 1:
        base = [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={procs}',
                f'--master_port={port}', 'tools/train.py']
    cmd = base + [str(config), '--work-dir', str(work_dir), *extra_args,
                  '--cfg-options', *options]
    if procs > 1:
        cmd[cmd.index('--work-dir'):cmd.index('--work-dir')] = ['--launcher', 'pytorch']
    full_env = dict(os.environ, OMP_NUM_THREADS='1',
                    PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / 'tests')]))
    full_env.update(env or {})
    proc = subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True,
                          timeout=600)
    if expect_ok and proc.returncode != 0:
        raise AssertionError(f'{" ".join(cmd)} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


def final_checkpoint(work_dir: Path) -> dict:
    return torch.load(work_dir / f'iter_{MAX_ITERS}.pth', map_location='cpu',
                      weights_only=False)


def tensors(obj, prefix=''):
    """Every tensor nested in ``obj`` with a path as its name."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from tensors(value, f'{prefix}.{key}')
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from tensors(value, f'{prefix}.{i}')


def test_kill_during_a_save_leaves_a_resumable_run(tmp_path, smoke_uda_data, uda_options):
    options = uda_options(smoke_uda_data)
    # the third checkpoint write stops half-way and the process dies
    kill = dict(FAULT_KILL_IN_SAVE='3')
    work = tmp_path / 'safe'
    proc = train(run_config(tmp_path, 'safe'), work, options, env=kill, expect_ok=False)
    assert proc.returncode == -signal.SIGKILL
    assert (work / 'last_checkpoint').read_text().strip() == 'iter_2.pth'
    assert not (work / 'iter_3.pth').exists()
    complete = torch.load(work / 'iter_2.pth', weights_only=False)
    assert complete['meta']['iter'] == 2
    moved = tmp_path / 'moved'  # the work dir resumes from its own files
    shutil.move(str(work), str(moved))
    work = moved
    resumed = train(run_config(tmp_path, 'safe'), work, options, '--resume')
    assert 'resumed epoch: 0, iter: 2\n' in resumed.stdout
    assert final_checkpoint(work)['meta']['iter'] == MAX_ITERS
    assert sorted(p.name for p in work.glob('*.pth')) == [f'iter_{MAX_ITERS}.pth']

    # mmengine's own CheckpointHook loses the run: the kept checkpoint is deleted
    # before the new one is written, and the new one is truncated
    plain = tmp_path / 'plain'
    train(run_config(tmp_path, 'plain', 'CheckpointHook'), plain, options, env=kill,
          expect_ok=False)
    resumed = train(run_config(tmp_path, 'plain', 'CheckpointHook'), plain, options,
                    '--resume', expect_ok=False)
    assert resumed.returncode != 0
    assert not (plain / 'iter_2.pth').exists()


@pytest.mark.parametrize('workers, procs', [(0, 1), (1, 2)])
def test_kill_at_a_random_iteration_then_resume_is_exact(workers, procs, tmp_path,
                                                         smoke_uda_data, uda_options):
    """One process in the main thread, and two DDP processes each with a loader
    worker (the sampler, worker RNG and DDP state all resumed at once)."""
    options = uda_options(smoke_uda_data) + [
        f'train_dataloader.num_workers={workers}',
        f'train_dataloader.persistent_workers={workers > 0}']
    config = run_config(tmp_path, 'exact')
    port = 29561 + 2 * workers
    reference = tmp_path / 'reference'
    train(config, reference, options, procs=procs, port=port)

    kill_at = random.Random(f'{workers}{procs}').randint(2, MAX_ITERS - 1)
    work = tmp_path / 'killed'
    proc = train(config, work, options, procs=procs, port=port, expect_ok=False,
                 env=dict(FAULT_KILL_AT_ITER=str(kill_at), FAULT_KILL_RANK=str(procs - 1)))
    assert proc.returncode != 0
    assert not (work / f'iter_{MAX_ITERS}.pth').exists()
    resumed = train(config, work, options, '--resume', procs=procs, port=port)
    # with two processes rank 0 may still have been writing checkpoint kill_at when
    # rank 1 died and took it down: the run then resumes from the one before
    resumed_at = [i for i in range(1, kill_at + 1)
                  if f'resumed epoch: 0, iter: {i}\n' in resumed.stdout + resumed.stderr]
    assert resumed_at and (procs > 1 or resumed_at == [kill_at]), resumed_at

    expected = dict(tensors(final_checkpoint(reference)))
    got = dict(tensors(final_checkpoint(work)))
    compared = [key for key in expected if key.startswith(('.state_dict', '.optimizer'))]
    assert len(compared) > 300
    assert {k for k in got if k.startswith(('.state_dict', '.optimizer'))} == set(compared)
    differing = [key for key in compared if not torch.equal(expected[key], got[key])]
    assert differing == [], f'kill at {kill_at}: {differing[:10]}'
