"""The paper's recipe as one command (tools/run_pipeline.py on configs/pipelines/), at
reduced size: 1/8 resolution, ResNet-18 depth, two iterations per training stage, GTA5
/ Cityscapes layout trees written by the test; every training, evaluation and P_ST stage on two
gloo processes. A stage killed mid-training resumes; a KD stage whose student
initialisation does not fit is refused before any process starts."""
import json
import os
import pprint
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from cpsl_mmseg.models.utils.stage_checkpoint import file_digest

REPO = Path(__file__).resolve().parents[1]
PIPELINE = 'configs/pipelines/cpsl_deeplabv2_r101_gta5-to-cityscapes.py'
TOOL = 'tools/run_pipeline.py'
STAGES = ('warmup', 'pseudo_labels', 'prototypes', 'cpsl', 'kd1', 'kd2')
TRAINED = ('warmup', 'cpsl', 'kd1', 'kd2')


def write_config(cfg: Config, path: Path) -> str:
    path.write_text(''.join(f'{key} = {pprint.pformat(value)}\n'
                            for key, value in cfg.to_dict().items()))
    return str(path)


def write_pipeline(path: Path, stages) -> str:
    path.write_text(f'uda_pipeline = dict(stages={pprint.pformat(stages)})\n')
    return str(path)


def run_pipeline(pipeline: str, work: Path, *args, env=None, expect_ok=True):
    full_env = dict(os.environ, OMP_NUM_THREADS='1')
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, TOOL, pipeline, '--work-dir', str(work), '--launcher', 'pytorch',
         '--gpus', '2', *args], cwd=REPO, env=full_env, capture_output=True, text=True,
        timeout=1500)
    if expect_ok and proc.returncode != 0:
        raise AssertionError(f'pipeline failed:\n{proc.stdout[-4000:]}\n'
                             f'{proc.stderr[-4000:]}')
    return proc


@pytest.fixture(scope='module')
def tiny_stages(paper_data, tmp_path_factory, shrink_paper_config, tiny_simclr):
    """The paper pipeline's stages, each config at reduced size."""
    root = tmp_path_factory.mktemp('tiny_paper_configs')
    stages = []
    for stage in Config.fromfile(str(REPO / PIPELINE)).uda_pipeline.stages:
        stage = stage.to_dict()
        if 'config' not in stage:  # the optional export of the last stage
            stages.append(stage)
            continue
        cfg = shrink_paper_config(Config.fromfile(str(REPO / stage['config'])), paper_data,
                                  root / 'unused')
        cfg.train_cfg.max_iters = 2
        if cfg.model.type == 'CPSLDistill':
            cfg.model.student_checkpoint = tiny_simclr(cfg, root / 'simclr.pth')
        stage['config'] = write_config(cfg, root / f'{stage["name"]}.py')
        stages.append(stage)
    return stages


@pytest.fixture(scope='module')
def finished(tiny_stages, tmp_path_factory):
    root = tmp_path_factory.mktemp('paper_pipeline')
    pipeline = write_pipeline(root / 'pipeline.py', tiny_stages)
    work = root / 'run'
    return work, run_pipeline(pipeline, work)


def test_every_stage_runs_on_two_gloo_processes(finished):
    work, proc = finished
    for stage in STAGES:
        assert (work / stage / 'stage.json').is_file(), stage
    for stage in TRAINED:
        log = (work / stage / 'train.log').read_text()
        assert '--nproc_per_node=2' in log.splitlines()[0], stage
        assert 'Distributed training: True' in log and 'GPU number: 2' in log, stage
        test_log = (work / stage / 'test.log').read_text()
        assert '--nproc_per_node=2' in test_log.splitlines()[0], stage
    p_st = (work / 'pseudo_labels' / 'generate_pseudo_labels.log').read_text()
    assert '[rank 0]' in p_st and '[rank 1]' in p_st
    prototypes = (work / 'prototypes' / 'compute_prototypes.log').read_text()
    assert '--nproc_per_node=2' in prototypes.splitlines()[0]
    assert len(list((work / 'pseudo_labels').glob('*.npy'))) == 2
    summary = (work / 'summary.md').read_text()
    assert '| adversarial warm-up | CPSL | CPSL + KD-1 | CPSL + KD-2 |' in summary


def test_each_stage_starts_from_the_file_the_previous_one_wrote(finished):
    work, _ = finished
    cpsl = Config.fromfile(str(work / 'cpsl' / 'config.py'))
    assert cpsl.model.warmup_checkpoint == str(work / 'warmup' / 'segmentor.pth')
    kd1 = Config.fromfile(str(work / 'kd1' / 'config.py'))
    kd2 = Config.fromfile(str(work / 'kd2' / 'config.py'))
    last = {stage: str(work / stage / 'train' / 'iter_2.pth') for stage in TRAINED}
    assert kd1.model.teacher_checkpoint == last['cpsl']
    assert kd2.model.teacher_checkpoint == last['kd1']
    segmentor = torch.load(work / 'warmup' / 'segmentor.pth', weights_only=False)
    warmup = torch.load(last['warmup'], weights_only=False)['state_dict']
    assert all(torch.equal(value, warmup[f'student.{key}'])
               for key, value in segmentor['state_dict'].items())


def test_two_process_prototypes_equal_one_process(finished, tmp_path, run_tool):
    """Each rank takes every other image; the all-reduced Eq. 7 / Eq. 10 statistics
    are those of one process over all images."""
    work, _ = finished
    run_tool(['python', 'tools/compute_prototypes.py', work / 'prototypes' / 'config.py',
              '--out', tmp_path / 'one.pth'])
    two = torch.load(work / 'prototypes' / 'statistics.pth')
    one = torch.load(tmp_path / 'one.pth')
    assert torch.equal(two['class_counts'], one['class_counts'])
    assert two['class_counts'].sum() > 0
    assert torch.allclose(two['prototypes'], one['prototypes'], atol=1e-6)


@pytest.mark.parametrize('problem', ['missing', 'another-architecture'])
def test_kd_student_init_that_does_not_fit_is_refused_before_any_process(
        problem, finished, tiny_stages, tmp_path):
    work, _ = finished
    bad = tmp_path / 'simclr.pth'
    if problem == 'another-architecture':  # a ResNet-50 stem: 64 channels
        torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7)}, bad)
    stages = [dict(s, options={'model.student_checkpoint': str(bad)})
              if s['name'] == 'kd1' else s for s in tiny_stages]
    pipeline = write_pipeline(tmp_path / 'pipeline.py', stages)
    kept = {p: p.stat().st_mtime_ns
            for p in [work / 'kd1' / 'stage.json', work / 'kd1' / 'train.log',
                      work / 'kd1' / 'config.py']}
    proc = run_pipeline(pipeline, work, '--redo', 'kd1', '--until', 'kd1',
                        expect_ok=False)
    assert proc.returncode != 0
    assert 'model.student_checkpoint' in proc.stderr and str(bad) in proc.stderr
    assert '[pipeline] kd1: ' not in proc.stdout  # no command was started
    assert {p: p.stat().st_mtime_ns for p in kept} == kept


def killed_cpsl_stage(finished, tiny_stages, tmp_path):
    """A copy of the finished run up to prototypes, then the CPSL stage (4 iterations,
    a checkpoint each) killed with SIGKILL at iteration 3; returns a re-run function."""
    done, _ = finished
    work = tmp_path / 'run'
    for stage in ('warmup', 'pseudo_labels', 'prototypes'):
        shutil.copytree(done / stage, work / stage)
    stages = [dict(s, options={'train_cfg.max_iters': 4,
                               'default_hooks.checkpoint.interval': 1})
              if s['name'] == 'cpsl' else s for s in tiny_stages]
    pipeline = write_pipeline(tmp_path / 'pipeline.py', stages)
    fault = dict(FAULT_KILL_AT_ITER='3', FAULT_KILL_WORK_DIR=str(work / 'cpsl'),
                 FAULT_KILL_ONCE=str(tmp_path / 'killed'),
                 PYTHONPATH=os.pathsep.join([str(REPO / 'tests'), str(REPO),
                                             os.environ.get('PYTHONPATH', '')]))
    proc = run_pipeline(pipeline, work, '--until', 'cpsl', env=fault, expect_ok=False)
    assert proc.returncode != 0 and (tmp_path / 'killed').exists()
    assert not (work / 'cpsl' / 'stage.json').exists()
    assert (work / 'cpsl' / 'train' / 'iter_2.pth').is_file()
    return work, lambda: run_pipeline(pipeline, work, '--until', 'cpsl', env=fault)


def train_log_starts(work: Path):
    """(the command's first line, the iterations the resumed run logged it resumed at)"""
    log = (work / 'cpsl' / 'train.log').read_text()
    resumed = [int(line.rsplit('iter: ', 1)[1]) for line in log.splitlines()
               if 'resumed epoch: 0, iter: ' in line]
    return log.splitlines()[0], resumed


def test_a_killed_stage_resumes_from_its_last_checkpoint(finished, tiny_stages,
                                                         tmp_path):
    work, rerun = killed_cpsl_stage(finished, tiny_stages, tmp_path)
    rerun()
    command, resumed = train_log_starts(work)
    assert '--resume' in command
    assert resumed and min(resumed) >= 2, resumed
    assert (work / 'cpsl' / 'train' / 'iter_4.pth').is_file()
    assert (work / 'cpsl' / 'stage.json').is_file()


def test_a_killed_stage_whose_inputs_changed_starts_over(finished, tiny_stages, tmp_path):
    """Resuming would continue a run made on other prototypes: the stage starts from
    iteration 0 instead, the interrupted run kept in train.previous."""
    work, rerun = killed_cpsl_stage(finished, tiny_stages, tmp_path)
    # the prototypes stage's output replaced by other statistics (as a redone stage's)
    record_path = work / 'prototypes' / 'stage.json'
    record = json.loads(record_path.read_text())
    changed = torch.load(record['file'])
    changed['class_counts'] = changed['class_counts'] + 1
    statistics = work / 'prototypes' / 'other_statistics.pth'
    torch.save(changed, statistics)
    record_path.write_text(json.dumps(dict(record, file=str(statistics))))
    rerun()
    command, resumed = train_log_starts(work)
    assert '--resume' not in command and not resumed
    assert (work / 'cpsl' / 'train.previous' / 'iter_2.pth').is_file()
    assert (work / 'cpsl' / 'train' / 'iter_4.pth').is_file()
    record = json.loads((work / 'cpsl' / 'stage.json').read_text())
    assert record['inputs'][str(statistics)] == file_digest(str(statistics))
