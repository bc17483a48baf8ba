"""How a stage's tool is started: one process, N processes through torchrun, or a SLURM
job step through srun (as ``tools/dist_train.sh`` and ``tools/slurm_train.sh`` do).

Distributed tools (``tools/train.py``, ``tools/test.py``,
``tools/generate_pseudo_labels.py``, ``tools/compute_prototypes.py``) get
``--launcher pytorch|slurm``; on machines without CUDA they run as gloo CPU processes
(``cpsl_mmseg.compat``). Tools of one process run on the machine itself with
``--launcher pytorch`` and as a one-task job step with ``--launcher slurm`` (they use a
GPU too).
"""
import socket
import sys
from dataclasses import dataclass
from typing import List, Optional

LAUNCHERS = ('none', 'pytorch', 'slurm')


def free_port() -> int:
    """A TCP port nobody listens on now (for torchrun's rendezvous)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


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
        """The command line that runs ``tool`` with ``args``."""
        python = [sys.executable, '-u', tool, *args]
        if self.kind == 'none':
            return python
        if self.kind == 'pytorch':
            if not distributed:
                return python
            return [sys.executable, '-m', 'torch.distributed.run',
                    f'--nproc_per_node={self.gpus}', f'--master_port={free_port()}',
                    tool, *args, '--launcher', 'pytorch']
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
