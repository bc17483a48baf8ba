"""SubsetIoUMetric on hand-computed confusion examples."""
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmseg.datasets import CityscapesDataset
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

import cpsl_mmseg  # noqa: F401  (registers SubsetIoUMetric)
from cpsl_mmseg.datasets import SynthiaDataset
from cpsl_mmseg.evaluation.subset_iou_metric import (SYNTHIA13_CLASSES, SYNTHIA16_CLASSES,
                                                     SubsetIoUMetric)

CLASSES = ('road', 'sidewalk', 'wall', 'pole', 'sky')
ROAD, SIDEWALK, WALL, POLE, SKY, IGNORE = 0, 1, 2, 3, 4, 255

# (ground truth, prediction, pixels). Confusion over the split:
#   road: 7 road, 1 sidewalk | sidewalk: 1 road, 3 sidewalk | wall: never in the GT,
#   predicted 3 times | pole: in neither | sky: 3 sky, 3 wall | 2 ignore pixels predicted
#   pole (must not count).
PAIRS = [(ROAD, ROAD, 7), (ROAD, SIDEWALK, 1), (SIDEWALK, ROAD, 1), (SIDEWALK, SIDEWALK, 3),
         (SKY, SKY, 3), (SKY, WALL, 3), (IGNORE, POLE, 2)]
# Per class by hand (intersection / union, intersection / GT pixels):
IOU = dict(road=7 / 9, sidewalk=3 / 5, wall=0.0, pole=math.nan, sky=3 / 6)
ACC = dict(road=7 / 8, sidewalk=3 / 4, wall=math.nan, pole=math.nan, sky=3 / 6)


def _samples(pairs, num_images=2):
    """Spread the (gt, pred) pixels over ``num_images`` 1-row images."""
    gt = np.concatenate([np.full(n, g) for g, _, n in pairs])
    pred = np.concatenate([np.full(n, p) for _, p, n in pairs])
    return [dict(gt_sem_seg=dict(data=torch.from_numpy(g[None, None]).long()),
                 pred_sem_seg=dict(data=torch.from_numpy(p[None, None]).long()))
            for g, p in zip(np.array_split(gt, num_images), np.array_split(pred, num_images))]


def _evaluate(metric_cfg, classes=CLASSES, pairs=PAIRS):
    evaluator = Evaluator(METRICS.build(metric_cfg))
    evaluator.dataset_meta = dict(classes=classes)
    samples = _samples(pairs)
    evaluator.process(samples, data_batch={})
    return evaluator.evaluate(len(samples))


def _pct(value):
    return round(value * 100, 2)


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-9)


def test_all_classes_mpa_and_per_class_values_match_hand_computation():
    out = _evaluate(dict(type='SubsetIoUMetric',
                         class_subsets=dict(mIoU_rs=['road', 'sky'])))
    assert out['aAcc'] == _pct(13 / 18)
    # pole (NaN) is left out of the mean; wall (0, predicted but absent) is not.
    assert out['mIoU'] == _pct((7 / 9 + 3 / 5 + 0.0 + 3 / 6) / 4) == 46.94
    # Eq. 16 over the classes present in the ground truth (wall and pole are NaN).
    assert out['MPA'] == _pct((7 / 8 + 3 / 4 + 3 / 6) / 3) == 70.83
    assert out['MPA'] == out['mAcc']
    assert out['mIoU_rs'] == _pct((7 / 9 + 3 / 6) / 2) == 63.89
    for name in CLASSES:
        assert _same(out[f'IoU.{name}'], _pct(IOU[name])), name
        assert _same(out[f'Acc.{name}'], _pct(ACC[name])), name


def test_summary_keys_agree_with_mmseg_iou_metric():
    ours = _evaluate(dict(type='SubsetIoUMetric'))
    theirs = _evaluate(dict(type='IoUMetric'))
    assert set(theirs) < set(ours)
    for key, value in theirs.items():  # mmseg returns float32 percentages
        assert ours[key] == round(float(value), 2), key


def test_subsets_skip_nan_classes_and_can_be_all_nan():
    out = _evaluate(dict(type='SubsetIoUMetric', class_subsets=dict(
        pole_wall=['pole', 'wall'], only_pole=['pole'], all5=list(CLASSES))))
    assert out['pole_wall'] == 0.0  # nanmean(NaN, 0)
    assert math.isnan(out['only_pole'])
    assert out['all5'] == out['mIoU']


def test_per_class_keys_can_be_switched_off():
    out = _evaluate(dict(type='SubsetIoUMetric', per_class=False))
    assert not [k for k in out if k.startswith(('IoU.', 'Acc.'))]
    assert {'aAcc', 'mIoU', 'mAcc', 'MPA'} <= set(out)


def test_synthia_constants():
    assert len(SYNTHIA16_CLASSES) == 16 and len(SYNTHIA13_CLASSES) == 13
    assert set(SYNTHIA16_CLASSES) - set(SYNTHIA13_CLASSES) == {'wall', 'fence', 'pole'}
    assert set(CityscapesDataset.METAINFO['classes']) - set(SYNTHIA16_CLASSES) == {
        'terrain', 'truck', 'train'}
    assert SynthiaDataset.METAINFO['classes'] == SYNTHIA16_CLASSES


def test_synthia_preset_on_cityscapes_classes():
    """A 19-class evaluation where only terrain, truck and train are wrong (the classes
    outside the SYNTHIA protocol) and wall is half wrong (outside mIoU13 only)."""
    classes = CityscapesDataset.METAINFO['classes']
    idx = {name: i for i, name in enumerate(classes)}
    pairs = [(i, i, 4) for i in range(19)]
    for name in ('terrain', 'truck', 'train'):
        pairs[idx[name]] = (idx[name], idx['road'], 4)
    pairs[idx['wall']] = (idx['wall'], idx['wall'], 2)
    pairs.append((idx['wall'], idx['building'], 2))
    out = _evaluate(dict(type='SubsetIoUMetric', class_subsets='synthia'), classes, pairs)
    road_iou = 4 / 16  # 12 pixels of terrain/truck/train predicted road: union 16
    building_iou = 4 / 6
    wall_iou = 2 / 4
    assert out['mIoU13'] == _pct((11 + road_iou + building_iou) / 13)
    assert out['mIoU16'] == _pct((11 + road_iou + building_iou + wall_iou + 2) / 16)
    assert out['mIoU'] == _pct((13 + road_iou + building_iou + wall_iou) / 19)
    assert out['IoU.traffic light'] == 100.0


def test_unknown_class_is_named_with_its_config_key():
    metric = SubsetIoUMetric(class_subsets=dict(mIoU16=['road'], mIoU13=['road', 'wal']))
    with pytest.raises(KeyError, match=r"class_subsets\['mIoU13'\].*'wal'"):
        Evaluator(metric).dataset_meta = dict(classes=CLASSES)


@pytest.mark.parametrize('subsets, error, text', [
    (dict(mIoU=['road']), KeyError, "class_subsets\\['mIoU'\\]"),
    (dict(MPA=['road']), KeyError, 'MPA'),
    ({'IoU.x': ['road']}, KeyError, 'IoU'),
    (dict(mIoU2='road'), TypeError, 'list of class names'),
    (dict(mIoU2=[]), TypeError, 'non-empty'),
    (dict(mIoU2=['road', 'road']), ValueError, 'twice'),
    ('cityscapes', KeyError, 'preset'),
    (['road'], TypeError, 'class_subsets'),
])
def test_bad_class_subsets_are_rejected(subsets, error, text):
    with pytest.raises(error, match=text):
        SubsetIoUMetric(class_subsets=subsets)


def test_is_an_iou_metric():
    assert issubclass(METRICS.get('SubsetIoUMetric'), IoUMetric)
