"""Shared fixtures: the repository root and generated smoke data."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope='session')
def smoke_data(tmp_path_factory) -> Path:
    """The tiny shapes dataset of configs/_base_/datasets/smoke_shapes.py."""
    from cpsl_mmseg.datasets.smoke_shapes import write_smoke_dataset
    root = tmp_path_factory.mktemp('smoke_data')
    write_smoke_dataset(str(root), num_train=8, num_val=4, size=64, seed=0)
    return root


def _run_tool(args, cwd=REPO, timeout=600, env_extra=None):
    """Run a command with the test interpreter; fail with its output if it fails."""
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    env['PYTHONPATH'] = str(REPO) + os.pathsep + env.get('PYTHONPATH', '')
    if env_extra:
        env.update(env_extra)
    cmd = [sys.executable if a == 'python' else str(a) for a in args]
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f'command failed ({proc.returncode}): {" ".join(cmd)}\n'
            f'--- stdout ---\n{proc.stdout[-6000:]}\n'
            f'--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


@pytest.fixture(scope='session')
def run_tool():
    """``run_tool(['python', 'tools/train.py', ...])``: run, assert success, return
    the CompletedProcess (``python`` is replaced by the test interpreter)."""
    return _run_tool
