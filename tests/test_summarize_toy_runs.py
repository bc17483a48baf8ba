"""benchmarks/summarize_toy_runs.py: issue 20's spine targets from the run dirs."""
import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location(
    'summarize_toy_runs', REPO / 'benchmarks' / 'summarize_toy_runs.py')
summarize = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(summarize)


def write_run(root: Path, seed: int, miou: dict, curves: dict) -> str:
    run = root / f'seed{seed}'
    for stage, points in curves.items():
        vis = run / stage / 'train' / '20260101_000000' / 'vis_data'
        vis.mkdir(parents=True)
        lines = [{'step': 50 * (i + 1), 'mIoU': v} for i, v in enumerate(points)]
        lines.insert(1, {'step': 60, 'loss': 1.0})  # a training record between checks
        (vis / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in lines))
    stages = {k: dict(mIoU=v, per_class_iou={'a': v, 'b': v}, wall_time_s=60.0)
              for k, v in miou.items()}
    pseudo = {k: dict(gt_distribution=[0.9, 0.1], kl_gt_to_pseudo=0.1)
              for k in ('self_training', 'cpsl')}
    (run / 'summary.json').write_text(json.dumps(dict(seed=seed, stages=stages,
                                                      pseudo_labels=pseudo)))
    return str(run)


def test_the_best_spine_is_judged_against_its_start_its_curve_and_cpsl_on_it(tmp_path):
    runs, curves, mious = [], {}, {}
    for seed, (mic, cpsl_mic) in enumerate(((45.0, 47.5), (44.0, 45.0))):
        miou = dict(warmup=30.0, calibration=41.0, self_training=40.0, cpsl=43.0,
                    daformer=42.0, mic=mic, cpsl_daformer=44.0, cpsl_mic=cpsl_mic)
        curve = {k: [v] * 3 for k, v in miou.items() if k in summarize.ADAPTATION}
        curve['mic'] = [40.5, 43.0, mic]  # below the start at the first check
        path = write_run(tmp_path, seed, miou, curve)
        runs.append(json.loads(Path(path, 'summary.json').read_text()))
        for k in curve:
            curves.setdefault(k, []).append(summarize.validation_curve(path, k))
        for k, v in miou.items():
            mious.setdefault(k, []).append(v)
    assert curves['mic'] == [[40.5, 43.0, 45.0], [40.5, 43.0, 44.0]]
    checks = dict(summarize.spine_checks(runs, curves, mious))
    assert list(checks.values()) == [True, False, False, True]  # MIC +3.5, dips, +1.75
    assert 'best spine alone (mic, +3.50)' in list(checks)[0]


def test_the_main_job_time_leaves_out_the_optional_stages():
    stages = ('warmup', 'calibration', 'cpsl', 'oracle', 'mic', 'sched_cpsl_ema0.99')
    summary = dict(stages={stage: dict(wall_time_s=60.0) for stage in stages})
    assert summarize.main_job_minutes(summary) == 3.0
