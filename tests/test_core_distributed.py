"""Two CPU processes (gloo): the memory bank, the class prior and the prototype
accumulator agree across ranks after their collective calls, with different inputs
(and different numbers of rows, including none) on each rank.

Each rank is a fresh interpreter running a script written to tmp_path, so nothing
depends on how pytest imported this module.
"""
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from cpsl_mmseg.clustering.memory_bank import PixelMemoryBank

REPO = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent('''
    import importlib.util, sys
    import torch
    import torch.distributed as dist

    repo, rank, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

    def load(relative):  # the module file alone, without importing all of cpsl_mmseg
        spec = importlib.util.spec_from_file_location(relative.replace('/', '_'),
                                                      f'{repo}/{relative}')
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    bank_mod = load('cpsl_mmseg/clustering/memory_bank.py')
    prior_mod = load('cpsl_mmseg/clustering/class_prior.py')
    proto_mod = load('cpsl_mmseg/clustering/prototypes.py')
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=2)

    bank = bank_mod.PixelMemoryBank(length=10, feat_dim=2, store_labels=True)
    first = [3, 5][rank]
    values = torch.arange(first, dtype=torch.float32) + 100 * (rank + 1)
    bank.enqueue(values.unsqueeze(1).repeat(1, 2), values.long())
    second = [4, 0][rank]  # rank 1 contributes nothing the second time
    values = torch.arange(second, dtype=torch.float32) + 300
    bank.enqueue(values.unsqueeze(1).repeat(1, 2), values.long())

    prior = prior_mod.ClassPrior(3, mode='moving_average', decay=0.5)
    prior.initialize(torch.tensor([[1, 0, 1], [2, 4, 0]][rank]))
    initial = prior.get()
    batch = [torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.0]])]
    prior.update(batch[rank])

    protos = proto_mod.PrototypeAccumulator(2, 2)
    feats = [torch.tensor([[[[1.0, 5.0]], [[0.0, 5.0]]]]),
             torch.tensor([[[[0.0, 0.0]], [[1.0, 3.0]]]])][rank]  # (1, 2, 1, 2)
    labels = [torch.tensor([[[0, 255]]]), torch.tensor([[[0, 1]]])][rank]
    protos.update(feats, labels)
    protos.all_reduce()

    torch.save(dict(bank=bank.state_dict(), initial=initial, prior=prior.get(),
                    prototypes=protos.compute(), counts=protos.counts.clone()), out)
    dist.barrier()
    dist.destroy_process_group()
''')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(120)
def test_two_gloo_ranks_hold_identical_state(tmp_path):
    script = tmp_path / 'worker.py'
    script.write_text(WORKER)
    env = dict(os.environ, OMP_NUM_THREADS='1', GLOO_SOCKET_IFNAME='lo')
    port = str(free_port())
    outs = [tmp_path / f'rank{rank}.pt' for rank in range(2)]
    procs = [
        subprocess.Popen([sys.executable, str(script), str(REPO), str(rank), port, str(out)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for rank, out in enumerate(outs)
    ]
    logs = []
    try:
        for proc in procs:
            logs.append(proc.communicate(timeout=90)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert all(proc.returncode == 0 for proc in procs), '\n'.join(logs)
    results = [torch.load(out) for out in outs]

    # Memory bank: both ranks equal a single bank fed rank 0's rows then rank 1's.
    expected = PixelMemoryBank(length=10, feat_dim=2, store_labels=True)
    for values in (torch.cat([torch.arange(3) + 100.0, torch.arange(5) + 200.0]),
                   torch.arange(4) + 300.0):
        expected.enqueue(values.unsqueeze(1).repeat(1, 2), values.long())
    for result in results:
        for key, value in expected.state_dict().items():
            assert torch.equal(result['bank'][key], value), key
    assert expected.is_full and int(expected.write_pointer) == 2

    # Class prior: Eq. 10 on summed counts, Eq. 11 with the mean over all ranks' kept rows.
    initial = torch.tensor([3.0, 4.0, 1.0]) / 8
    updated = 0.5 * initial + 0.5 * torch.tensor([0.5, 0.5, 0.0])
    for result in results:
        assert torch.allclose(result['initial'], initial)
        assert torch.allclose(result['prior'], updated)

    # Prototypes (Eq. 7): unit features [1,0], [0,1] for class 0 and [0,1] for class 1.
    for result in results:
        assert result['counts'].tolist() == [2, 1]
        assert torch.allclose(result['prototypes'], torch.tensor([[0.5, 0.5], [0.0, 1.0]]))
