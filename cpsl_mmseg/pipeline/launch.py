"""How a stage's tool is started: one process, N processes through torchrun, or a SLURM
job step through srun (as ``tools/dist_train.sh`` and ``tools/slurm_train.sh`` do).

A tool is a module run with ``python -m`` (the plug-in's tools,
``cpsl_mmseg.tools.*``: no checkout needed; torchrun and srun take ``-m`` too) or a
script path ending in ``.py`` (another package's tools). Distributed tools (train,
test, P_ST, prototypes) get ``--launcher pytorch|slurm``; on machines without CUDA
they run as gloo CPU processes (``cpsl_mmseg.compat``). Tools of one process run on the
machine itself with ``--launcher pytorch`` and as a one-task job step with
``--launcher slurm`` (they use a GPU too).
"""
import os
import os.path as osp
import socket
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

LAUNCHERS = ('none', 'pytorch', 'slurm')


def free_port() -> int:
    """A TCP port nobody listens on now (for torchrun's rendezvous)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def entry_point(tool: str) -> List[str]:
    """``['-m', MODULE]`` for a module, ``[SCRIPT]`` for a path ending in ``.py``."""
    return [tool] if tool.endswith('.py') else ['-m', tool]


def tool_name(tool: str) -> str:
    """``cpsl_mmseg.tools.train`` and ``tools/train.py`` are both ``train``."""
    if tool.endswith('.py'):
        return osp.splitext(osp.basename(tool))[0]
    return tool.rsplit('.', 1)[-1]


@dataclass(frozen=True)
class Launcher:
    """``kind``: ``'none'``, ``'pytorch'`` (torchrun, ``gpus`` processes) or ``'slurm'``
    (srun on ``partition``, ``gpus`` tasks, ``gpus_per_node`` per node)."""

    kind: str = 'none'
    gpus: int = 1
    gpus_per_node: Optional[int] = None
    partition: Optional[str] = None
    cpus_per_task: int = 5
    job_name: str = 'cpsl'

    def __post_init__(self) -> None:
        if self.kind not in LAUNCHERS:
            raise ValueError(f'--launcher must be one of {LAUNCHERS}, got {self.kind!r}')
        if self.kind == 'slurm' and not self.partition:
            raise ValueError('--launcher slurm needs --partition')
        if self.gpus < 1:
            raise ValueError(f'--gpus must be >= 1, got {self.gpus}')

    def command(self, tool: str, args: List[str], distributed: bool) -> List[str]:
        """The command line that runs ``tool`` (module or script) with ``args``."""
        python = [sys.executable, '-u', *entry_point(tool), *args]
        if self.kind == 'none':
            return python
        if self.kind == 'pytorch':
            if not distributed:
                return python
            return [sys.executable, '-m', 'torch.distributed.run',
                    f'--nproc_per_node={self.gpus}', f'--master_port={free_port()}',
                    *entry_point(tool), *args, '--launcher', 'pytorch']
        tasks = self.gpus if distributed else 1
        per_node = min(self.gpus_per_node or self.gpus, tasks)
        srun = ['srun', '-p', self.partition, f'--job-name={self.job_name}',
                f'--gres=gpu:{per_node}', f'--ntasks={tasks}',
                f'--ntasks-per-node={per_node}', f'--cpus-per-task={self.cpus_per_task}',
                '--kill-on-bad-exit=1']
        return srun + python + (['--launcher', 'slurm'] if distributed else [])

    def environment(self) -> dict:
        """Variables the launched processes need (a rendezvous port for SLURM)."""
        return dict(MASTER_PORT=str(free_port())) if self.kind == 'slurm' else {}


def import_roots(packages: Sequence[str]) -> List[str]:
    """The folders ``packages`` were imported from, when the interpreter would not find
    them by itself (a checkout on ``sys.path``, not an installed package): the tools
    started as new processes must import the same code."""
    installed = {osp.realpath(sysconfig.get_paths()[key]) for key in ('purelib', 'platlib')}
    roots = []
    for name in packages:
        module = sys.modules.get(name.split('.')[0])
        path = getattr(module, '__file__', None)
        if not path:
            continue
        root = osp.dirname(osp.dirname(osp.realpath(path)))
        if root not in installed and root not in roots:
            roots.append(root)
    return roots


def child_environment(packages: Sequence[str], extra: Dict[str, str]) -> Dict[str, str]:
    """This process's environment, ``extra`` set and the roots of ``packages``
    (:func:`import_roots`) first on ``PYTHONPATH``."""
    path = [*import_roots(packages), os.environ.get('PYTHONPATH', '')]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p), **extra)


def run_logged(cmd: List[str], log_path: str, env: Dict[str, str], what: str) -> None:
    """Run ``cmd`` in the current directory, its output in ``log_path`` (first line:
    the command).

    Raises:
        RuntimeError: naming ``what``, the exit code, the log and its last lines.
    """
    printable = ' '.join(cmd)
    with open(log_path, 'w') as log:
        log.write(f'$ {printable}\n')
        log.flush()
        proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(log_path) as f:
            tail = ''.join(f.readlines()[-25:])
        raise RuntimeError(f'{what} failed (exit {proc.returncode}); log: {log_path}\n{tail}')
