"""The benchmark scripts at tiny size. benchmarks/gpu_check.sh and bench_gpu.py on the
CPU: the paper CPSL config shrunk (1/8 crop, ResNet-18 widths of 8, small bank) runs the
same measurement code a CUDA machine runs, for CPSL and the self-training baseline,
plus the Sinkhorn call at the paper's N = 65,536 + 2,048. bench_data_loading.py on
one image per domain at the paper's resolution."""
import json
import subprocess
import sys

import pytest

PAPER_CPSL = 'configs/cpsl/cpsl_deeplabv2_r101_4xb1-90k_gta5-to-cityscapes-896x512.py'


@pytest.fixture
def tiny_config(tmp_path, paper_data, shrink_paper_config, repo_root):
    from mmengine.config import Config
    cfg = shrink_paper_config(Config.fromfile(str(repo_root / PAPER_CPSL)), paper_data,
                              tmp_path / 'work')
    path = tmp_path / 'tiny_cpsl.py'
    cfg.dump(str(path))
    return path


def test_gpu_check_script_on_cpu(tiny_config, tmp_path, run_tool):
    out = tmp_path / 'out'
    proc = run_tool(['bash', 'benchmarks/gpu_check.sh', out, '2'],
                    env_extra=dict(DEVICE='cpu', CONFIG=str(tiny_config), WARMUP='1',
                                   PYTHON=sys.executable))
    rows = [json.loads(line) for line in (out / 'results.jsonl').read_text().splitlines()]
    assert [row['variant'] for row in rows] == ['self_training', 'cpsl', 'sinkhorn']
    assert all(row['device'] == 'cpu' and not row['amp'] for row in rows)
    training = rows[:2]
    assert all(row['crop'] == [64, 112] and row['batch'] == 1 for row in training)
    assert all(0 < row['median_s_per_iter'] < 60 for row in rows)
    assert rows[2]['rows'] == 65536 + 2048 and rows[2]['classes'] == 19
    table = (out / 'table.md').read_text()
    assert table in proc.stdout
    assert table.count('\n| ') == 3 and '| cpsl | fp32 |' in table


def test_amp_and_missing_cuda_are_refused_by_name(tiny_config, repo_root):
    def run(*args):
        return subprocess.run([sys.executable, 'benchmarks/bench_gpu.py', *args],
                              cwd=repo_root, capture_output=True, text=True)

    proc = run('--variant', 'cpsl', '--device', 'cpu', '--amp', '--config', str(tiny_config))
    assert proc.returncode == 2 and '--amp needs a CUDA device' in proc.stderr
    import torch
    if not torch.cuda.is_available():
        proc = run('--variant', 'cpsl')
        assert proc.returncode == 2 and 'no CUDA device here' in proc.stderr


def test_data_loading_benchmark_measures_every_variant(run_tool):
    proc = run_tool(['python', 'benchmarks/bench_data_loading.py', '--samples', '1',
                     '--images', '1'])
    rows = [line.split('|')[1:-1] for line in proc.stdout.splitlines()
            if line.startswith('| ') and not line.startswith('| variant')]
    assert [row[0].strip() for row in rows] == [
        'source', 'target', 'paired', 'target-reference', 'paired-reference']
    for row in rows:
        rate, before, peak, held = map(float, row[1:])
        assert rate > 0 and peak >= before > 0 and abs(held - (peak - before)) <= 1
