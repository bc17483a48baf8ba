"""The pipeline without training: --dry-run prints the plan and writes nothing; dataset
paths reach the stage configs as the config writes them unless --data-root asks; a
stage that ends below the network it started from is flagged at its end and in the
summary."""
import json
from pathlib import Path

import pytest
from mmengine.config import Config

from cpsl_mmseg.models.utils.stage_checkpoint import file_digest
from cpsl_mmseg.pipeline import STAGE_KINDS, Pipeline, StageKind
from cpsl_mmseg.pipeline.settings import stage_settings
from cpsl_mmseg.tools.run_pipeline import main as run_pipeline

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / 'projects/cpsl_lab/configs/toy/cpsl_deeplabv3plus_efficientnet-lite0_toy-128x64.py'
TOY_STAGES = ('data', 'warmup', 'calibration', 'pseudo_labels', 'prototypes',
              'self_training', 'cpsl', 'analysis')


def test_dry_run_prints_every_stage_and_writes_nothing(tmp_path, capsys):
    work = tmp_path / 'run'
    run_pipeline([str(TOY), '--work-dir', str(work), '--dry-run', '--with', 'oracle',
                  'export'])
    out = capsys.readouterr().out
    assert not work.exists()
    blocks = {line.split()[1]: line for line in out.splitlines()
              if line.startswith('[dry-run] ') and ': would run' in line}
    assert set(blocks) == set(TOY_STAGES) | {'oracle', 'export'}
    train = f'-m cpsl_mmseg.tools.train {work}/cpsl/config.py'
    test = (f'-m cpsl_mmseg.tools.test {work}/cpsl/config.py '
            f'{work}/cpsl/train/iter_300.pth')
    assert train in out and test in out
    # inputs are the outputs the earlier stages would record
    assert f'-m cpsl_mmseg.tools.generate_pseudo_labels {work}/pseudo_labels/config.py ' \
           f'{work}/calibration/calibrated.pth' in out
    assert f'reads    {work}/prototypes/statistics.pth' in out
    assert f'writes   segmentor: {work}/calibration/calibrated.pth' in out
    assert 'checks   before any process starts' in out
    assert f'-m cpsl_mmseg.tools.export_model {work}/cpsl/config.py ' \
           f'{work}/cpsl/train/iter_300.pth --out-dir {work}/export' in out
    assert 'writes   network: student' in out  # CPSL validates with its student


def test_dataset_paths_are_the_configs_unless_data_root_asks(tmp_path):
    toy = Config.fromfile(str(TOY))
    written = {}
    for flag in (None, str(tmp_path / 'elsewhere')):
        pipe = Pipeline(str(TOY), str(tmp_path / str(bool(flag))), data_root=flag)
        spec = pipe.specs['warmup']
        base = pipe.base_config(spec)
        path = pipe.stage_config('warmup', base, stage_settings(pipe, spec, base),
                                 training=True)
        cfg = Config.fromfile(path)
        written[flag] = [cfg.train_dataloader.dataset.data_root,
                         cfg.val_dataloader.dataset.data_root,
                         cfg.test_dataloader.dataset.data_root]
    assert written[None] == [toy.data_root] * 3 == ['data/toy'] * 3
    assert written[str(tmp_path / 'elsewhere')] == [str(tmp_path / 'elsewhere')] * 3


@STAGE_KINDS.register_module(name='scripted', force=True)
class ScriptedStage(StageKind):
    """A stage that 'trains' by writing the metrics its spec's options give."""

    def run(self, pipe, spec):
        stage_dir = Path(pipe.stage_dir(spec.name))
        stage_dir.mkdir(parents=True, exist_ok=True)
        (stage_dir / 'train.log').write_text('training log\n')
        return dict(mIoU=spec.options['mIoU'], per_class_iou=dict(a=spec.options['mIoU']))


def test_an_adaptation_stage_below_its_start_is_flagged(tmp_path, capsys):
    """warmup (complete, 40.0) -> calibration (complete, 41.0) -> adapt (runs, ends at
    38.5: below) and fine (runs, ends at 43.0)."""
    config = tmp_path / 'pipeline.py'
    config.write_text(
        "uda_pipeline = dict(stages=[\n"
        "    dict(name='warmup', kind='train'),\n"
        "    dict(name='calibration', kind='bn_calibration', network='warmup'),\n"
        "    dict(name='adapt', kind='scripted', network='calibration',\n"
        "         options={'mIoU': 38.5}),\n"
        "    dict(name='fine', kind='scripted', network='calibration',\n"
        "         options={'mIoU': 43.0}),\n"
        "])\n")
    work = tmp_path / 'run'
    segmentors = {}
    for stage, miou, inputs in (('warmup', 40.0, []), ('calibration', 41.0, ['warmup'])):
        (work / stage).mkdir(parents=True)
        segmentor = work / stage / 'segmentor.pth'
        segmentor.write_bytes(stage.encode())
        segmentors[stage] = str(segmentor)
        record = dict(config=str(config), checkpoint=str(segmentor),
                      segmentor=str(segmentor), mIoU=miou, per_class_iou=dict(a=miou),
                      wall_time_s=1.0,
                      inputs={segmentors[s]: file_digest(segmentors[s]) for s in inputs})
        (work / stage / 'stage.json').write_text(json.dumps(record))
    Pipeline(str(config), str(work)).execute()
    out = capsys.readouterr().out
    assert '[pipeline] warmup: complete, skipped' in out
    assert "[pipeline] adapt: WARNING: adaptation hurt: stage 'adapt' ended at target " \
           "mIoU 38.50, 2.50 below the 41.00 of 'calibration'" in out
    assert '[pipeline] fine: WARNING' not in out
    assert 'adaptation hurt' in (work / 'adapt' / 'train.log').read_text()
    assert 'adaptation hurt' not in (work / 'fine' / 'train.log').read_text()
    record = json.loads((work / 'adapt' / 'stage.json').read_text())
    assert record['below_start'] and record['start_stage'] == 'calibration'
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['below_start'] == ['adapt']
    assert summary['stages']['adapt']['delta_vs_start'] == pytest.approx(-2.5)
    assert summary['stages']['calibration']['delta_vs_start'] == pytest.approx(1.0)
    assert summary['stages']['fine']['below_start'] is False
    table = (work / 'summary.md').read_text()
    assert '| vs start |  | +1.0 | -2.5 **below** | +2.0 |' in table
    assert 'ended below its start' in table and 'Check first' in table


@pytest.mark.parametrize('config, choice, expected', [
    ('configs/your_data/cpsl_deeplabv3plus_efficientnet-lite0_folders-128x64.py', None,
     ('student', 'student.')),
    ('configs/your_data/cpsl_deeplabv3plus_efficientnet-lite0_folders-128x64.py',
     'teacher', ('teacher', 'teacher.')),
    ('configs/your_data/deeplabv3plus_efficientnet-lite0_source-only_folders-128x64.py',
     None, ('segmentor', '')),
])
def test_export_takes_the_network_the_evaluation_measured(config, choice, expected):
    from cpsl_mmseg.utils.model_export import predicting_network
    cfg = Config.fromfile(str(REPO / config))
    assert predicting_network(cfg, choice) == expected
    cfg.model.predict_with = 'teacher'  # the wrapper validates with its EMA teacher
    if 'segmentor' in cfg.model:
        assert predicting_network(cfg) == ('teacher', 'teacher.')
    else:
        with pytest.raises(ValueError, match='plain segmentor'):
            predicting_network(cfg, 'teacher')


def test_a_bad_stage_list_is_refused_before_anything_runs(tmp_path):
    config = tmp_path / 'pipeline.py'
    config.write_text("uda_pipeline = dict(stages=[dict(name='warmup', kind='train', "
                      "config='configs/nowhere.py')])\n")
    with pytest.raises(FileNotFoundError, match=r'uda_pipeline.stages\[0\].config'):
        Pipeline(str(config), str(tmp_path / 'run'))
    config.write_text("uda_pipeline = dict(stages=[dict(name='x', kind='no_such_kind')])\n")
    with pytest.raises(ValueError, match=r"stages\[0\].kind: .*uda_pipeline.imports"):
        Pipeline(str(config), str(tmp_path / 'run'))
    assert not (tmp_path / 'run').exists()
