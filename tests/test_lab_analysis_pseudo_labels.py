"""Pseudo-label analysis (the lab's analyze_pseudo_labels.py) and the figure helpers."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from cpsl_lab.analysis import ConfusionMatrix, kl_divergence, shares
from cpsl_lab.analysis import figures

CONFIG = 'configs/smoke/cpsl_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'
SELF_TRAINING = 'configs/smoke/mean-teacher_fcn_r18-tiny_2xb2-20it_smoke-64x64.py'
TOOL = 'projects/cpsl_lab/tools/analyze_pseudo_labels.py'


# ----------------------------------------------------------------- statistics
def test_kl_divergence_is_zero_on_itself_and_positive_otherwise():
    p = [0.7, 0.2, 0.1, 0.0]
    assert kl_divergence(p, p) == 0.0
    q = [0.25, 0.25, 0.25, 0.25]
    expected = sum(a * np.log(a / 0.25) for a in p[:3])
    assert kl_divergence(p, q, epsilon=1e-12) == pytest.approx(
        expected, rel=1e-6)
    assert kl_divergence(p, q) > 0
    assert kl_divergence(p, q) != pytest.approx(kl_divergence(q, p))
    # an empty class of q stays finite thanks to epsilon
    assert np.isfinite(kl_divergence(q, p))
    with pytest.raises(ValueError, match='classes'):
        kl_divergence(p, q[:3])


def test_confusion_matrix_iou_counts_ignored_predictions_as_misses():
    gt = torch.tensor([[0, 0, 1, 1], [2, 2, 255, 1]])
    pred = torch.tensor([[0, 1, 1, 255], [2, 0, 0, 1]])
    matrix = ConfusionMatrix(num_classes=3, ignore_index=255)
    matrix.update(pred, gt)
    summary = matrix.summary(['a', 'b', 'c'])
    # class 0: TP 1, GT 2, pred 2 -> 1/3; class 1: TP 2, GT 3 (one ignored),
    # pred 3 -> 2/4; class 2: TP 1, GT 2, pred 1 -> 1/2
    iou = summary['per_class_iou']
    assert iou['a'] == pytest.approx(100 / 3)
    assert iou['b'] == pytest.approx(50.0)
    assert iou['c'] == pytest.approx(50.0)
    assert summary['mIoU'] == pytest.approx((100 / 3 + 100) / 3)
    assert summary['accuracy'] == pytest.approx(100 * 4 / 7)
    assert summary['ignored_share'] == pytest.approx(1 / 7)
    empty = ConfusionMatrix(num_classes=4)
    empty.update(pred, gt)
    assert empty.per_class_iou()[3] is None
    assert shares(torch.tensor([1, 3, 0])) == [0.25, 0.75, 0.0]


# -------------------------------------------------------------------- figures
def test_class_distribution_iou_and_curve_figures_are_written(tmp_path):
    classes = ['road', 'pole', 'sign']
    figures.plot_class_distributions(
        classes, {'ground truth': [0.9, 0.09, 0.01],
                  'CPSL': [0.8, 0.2, 0.0]}, tmp_path / 'dist.png')
    figures.plot_per_class_iou(
        classes, {'CPSL': {'road': 90.0, 'pole': None, 'sign': 10.0}},
        tmp_path / 'iou.png')
    train = [dict(loss=2.0 - 0.1 * i, iter=i, step=i) for i in range(1, 6)]
    figures.plot_training_curves({'cpsl': train}, tmp_path / 'one.png')
    val = train + [dict(mIoU=30.0, step=5)]
    figures.plot_training_curves({'cpsl': val, 'st': train},
                                 tmp_path / 'two.png')
    for name in ('dist', 'iou', 'one', 'two'):
        assert (tmp_path / f'{name}.png').stat().st_size > 1000, name
    one = Image.open(tmp_path / 'one.png').size
    two = Image.open(tmp_path / 'two.png').size
    assert two[0] > 1.5 * one[0]  # the mIoU panel was added
    with pytest.raises(ValueError, match='classes'):
        figures.plot_class_distributions(classes, {'x': [1.0]},
                                         tmp_path / 'bad.png')
    with pytest.raises(ValueError, match='loss'):
        figures.plot_training_curves({'st': [dict(mIoU=1.0, step=1)]},
                                     tmp_path / 'bad.png')


def test_read_scalars_takes_the_newest_run(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        figures.read_scalars(tmp_path)
    for stamp, loss in (('20240101_000000', 1.0), ('20240102_000000', 2.0)):
        vis = tmp_path / stamp / 'vis_data'
        vis.mkdir(parents=True)
        (vis / 'scalars.json').write_text(
            json.dumps(dict(loss=loss, iter=1)) + '\n\n' +
            json.dumps(dict(mIoU=5.0, step=1)) + '\n')
    assert figures.read_scalars(tmp_path) == [
        dict(loss=2.0, iter=1), dict(mIoU=5.0, step=1)]


def test_colorize_uses_palette_and_marks_ignore():
    label = np.array([[0, 1], [255, 7]])
    rgb = figures.colorize(label, [[1, 2, 3], [4, 5, 6]])
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert rgb[0, 0].tolist() == [1, 2, 3] and rgb[0, 1].tolist() == [4, 5, 6]
    assert rgb[1, 0].tolist() == list(figures.IGNORE_COLOR)
    assert rgb[1, 1].tolist() == list(figures.IGNORE_COLOR)


# ----------------------------------------------------------------------- tool
def _checkpoint(path, options, repo_root, config=CONFIG):
    """A freshly built model of a smoke config saved as a checkpoint."""
    from mmengine.config import Config, DictAction
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import cpsl_mmseg  # noqa: F401
    cfg = Config.fromfile(str(repo_root / config))
    pairs = (item.split('=', 1) for item in options)
    cfg.merge_from_dict(
        {key: DictAction._parse_iterable(value) for key, value in pairs})
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def _load_stats(out_dir):
    return json.loads((out_dir / 'pseudo_label_stats.json').read_text())


def _gt_shares(target_root, num_images, num_classes=3):
    """Class shares of the first ``num_images`` target train labels on disk."""
    counts = np.zeros(num_classes)
    labels = sorted((target_root / 'labels' / 'train').glob('*.png'))
    for label in labels[:num_images]:
        ids = np.asarray(Image.open(label))
        counts += np.bincount(ids[ids != 255], minlength=num_classes)
    return counts / counts.sum()


def _check_common(stats, target_root, num_images):
    assert stats['classes'] == ['background', 'square', 'disc']
    assert stats['num_images'] == num_images
    for key in ('gt_distribution', 'pseudo_distribution', 'p_st_distribution'):
        assert len(stats[key]) == 3
        assert sum(stats[key]) == pytest.approx(1.0)
        assert min(stats[key]) >= 0
    np.testing.assert_allclose(stats['gt_distribution'],
                               _gt_shares(target_root, num_images), atol=1e-9)
    assert stats['kl_gt_to_pseudo'] >= 0 and stats['kl_gt_to_p_st'] >= 0
    assert stats['kl_gt_to_pseudo'] == pytest.approx(kl_divergence(
        stats['gt_distribution'], stats['pseudo_distribution']))
    for key in ('pseudo_label', 'p_st_argmax', 'prediction'):
        assert 0 <= stats[key]['mIoU'] <= 100
        assert set(stats[key]['per_class_iou']) == set(stats['classes'])


def test_tool_reports_cpsl_pseudo_labels(tmp_path, smoke_uda_data,
                                         uda_options, run_tool, repo_root):
    from pathlib import Path
    options = uda_options(smoke_uda_data)
    ckpt = _checkpoint(tmp_path / 'cpsl.pth', options, repo_root)
    out = tmp_path / 'out'
    run_tool(['python', TOOL, CONFIG, ckpt, '--out-dir', out,
              '--num-qualitative', '3', '--batch-size', '3',
              '--cfg-options', *options])
    stats = _load_stats(out)
    target = Path(smoke_uda_data['target'])
    _check_common(stats, target, num_images=8)
    assert stats['use_self_labeling'] is True
    assert stats['pseudo_label_source'] == 'stored'
    # the stored P_ST of the fixture is a noisy softening of the true labels
    assert stats['p_st_argmax']['mIoU'] > 50
    # 3 rows of 5 square panels under a title band
    width, height = Image.open(out / 'qualitative.png').size
    assert 3 / 5 < height / width < 3.6 / 5


def test_tool_self_training_baseline_uses_the_teacher(tmp_path, smoke_uda_data,
                                                      uda_options, run_tool,
                                                      repo_root):
    from pathlib import Path
    options = uda_options(smoke_uda_data, SELF_TRAINING)
    ckpt = _checkpoint(tmp_path / 'st.pth', options, repo_root, SELF_TRAINING)
    out = tmp_path / 'out'
    run_tool(['python', TOOL, SELF_TRAINING, ckpt, '--out-dir', out,
              '--max-images', '5', '--num-qualitative', '2',
              '--cfg-options', *options])
    stats = _load_stats(out)
    _check_common(stats, Path(smoke_uda_data['target']), num_images=5)
    assert stats['use_self_labeling'] is False
    # the mean teacher's Y^ = argmax P_ST, P_ST the teacher's softmax; a fresh model's
    # teacher equals its student, so the prediction agrees too
    assert stats['pseudo_distribution'] == stats['p_st_distribution']
    assert stats['pseudo_label'] == stats['p_st_argmax']
    assert stats['prediction']['mIoU'] == pytest.approx(
        stats['pseudo_label']['mIoU'], abs=1.0)
    width, height = Image.open(out / 'qualitative.png').size
    assert 2 / 5 < height / width < 2.6 / 5


def test_tool_names_a_missing_label_file_and_writes_nothing(
        tmp_path, smoke_uda_data, uda_options, repo_root):
    options = uda_options(smoke_uda_data, SELF_TRAINING)
    ckpt = _checkpoint(tmp_path / 'st.pth', options, repo_root, SELF_TRAINING)
    out = tmp_path / 'out'
    proc = subprocess.run(
        [sys.executable, TOOL, SELF_TRAINING, str(ckpt), '--out-dir', str(out),
         '--gt-seg-map-path', 'no_such_labels', '--cfg-options', *options],
        cwd=repo_root, capture_output=True, text=True, timeout=300,
        env={'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin',
             'PYTHONPATH': str(repo_root)})
    assert proc.returncode != 0
    assert 'no_such_labels/' in proc.stderr
    assert 'is missing' in proc.stderr
    assert not out.exists()
