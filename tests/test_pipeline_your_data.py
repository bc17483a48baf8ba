"""docs/your_data.md end to end, as a new user would run it: a folder tree of another
layout than the toy tree (renders/img/*.jpg + renders/gt/*_label.png, dashcam/*.jpg,
dashcam_val/{img,label}), the page's config, the page's command with every training
stage shrunk to 2 iterations; then the exported model and the CPSL stage's own config
and checkpoint in mmseg's inference APIs."""
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
CLASSES = ['road', 'car', 'sky']
STAGES = ('warmup', 'calibration', 'pseudo_labels', 'prototypes', 'self_training',
          'cpsl', 'export')
SHRINK = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
          'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
          'train_dataloader.persistent_workers=False',
          'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1']


def page_config(base: Path) -> str:
    """The config of docs/your_data.md, its _base_ pointing at this checkout."""
    page = (REPO / 'docs' / 'your_data.md').read_text()
    block = re.search(r'<!-- your_data.py[^>]*-->\n```python\n(.*?)```', page, re.S).group(1)
    return block.replace('cpsl-mmseg/configs/', f'{base}/configs/')


def scene(rng, height: int, width: int):
    """An image and its 3-class label map: road below, sky above, a car box."""
    label = np.zeros((height, width), np.uint8)
    label[:height // 2] = 2
    top, left = rng.integers(height // 3, height // 2), rng.integers(0, width // 2)
    label[top:top + height // 4, left:left + width // 4] = 1
    colours = np.array([[90, 90, 90], [40, 40, 200], [230, 180, 120]], np.uint8)
    image = colours[label] + rng.integers(0, 30, (height, width, 3), dtype=np.uint8)
    return image, label


@pytest.fixture(scope='module')
def user_tree(tmp_path_factory) -> Path:
    """The user's directory: data/ as on the page (64x32 images), my_cpsl.py."""
    root = tmp_path_factory.mktemp('user')
    rng = np.random.default_rng(0)
    folders = dict(source_img='data/renders/img', source_gt='data/renders/gt',
                   target='data/dashcam', val_img='data/dashcam_val/img',
                   val_gt='data/dashcam_val/label')
    for folder in folders.values():
        (root / folder).mkdir(parents=True)
    for i in range(4):
        image, label = scene(rng, 32, 64)
        cv2.imwrite(str(root / folders['source_img'] / f'{i:04d}.jpg'), image)
        cv2.imwrite(str(root / folders['source_gt'] / f'{i:04d}_label.png'), label)
        image, _ = scene(rng, 32, 64)
        cv2.imwrite(str(root / folders['target'] / f'{i:04d}.jpg'), 255 - image)
    for i in range(2):
        image, label = scene(rng, 32, 64)
        cv2.imwrite(str(root / folders['val_img'] / f'{i:04d}.jpg'), 255 - image)
        cv2.imwrite(str(root / folders['val_gt'] / f'{i:04d}.png'), label)
    (root / 'my_cpsl.py').write_text(page_config(REPO))
    return root


@pytest.fixture(scope='module')
def finished(user_tree, run_tool):
    """``python tools/run_pipeline.py my_cpsl.py --work-dir work_dirs/mine``, run from
    the user's directory, every stage shrunk by --cfg-options."""
    proc = run_tool(['python', REPO / 'tools' / 'run_pipeline.py', 'my_cpsl.py',
                     '--work-dir', 'work_dirs/mine', '--cfg-options', *SHRINK],
                    cwd=user_tree, timeout=900)
    return user_tree / 'work_dirs' / 'mine', proc


def test_every_stage_of_the_recipe_completes(finished):
    work, proc = finished
    for stage in STAGES:
        assert (work / stage / 'stage.json').is_file(), stage
        assert f'[pipeline] {stage}: done' in proc.stdout, stage
    summary = json.loads((work / 'summary.json').read_text())
    for stage in ('warmup', 'calibration', 'self_training', 'cpsl', 'export'):
        assert list(summary['stages'][stage]['per_class_iou']) == CLASSES, stage
    assert len(list((work / 'pseudo_labels').glob('*.npy'))) == 4
    # the exported network is the one CPSL's evaluation measured
    assert summary['stages']['export']['mIoU'] == summary['stages']['cpsl']['mIoU']
    assert summary['stages']['export']['start_stage'] == 'cpsl'


def test_the_users_dataset_paths_reach_every_stage_unchanged(finished):
    """No --data-root: each stage config holds the user's folders as written."""
    work, _ = finished
    expected = dict(source='data/renders', target='data/dashcam', val='data/dashcam_val')
    for stage in ('warmup', 'calibration', 'self_training', 'cpsl'):
        cfg = Config.fromfile(str(work / stage / 'config.py'))
        train = cfg.train_dataloader.dataset
        if stage in ('warmup', 'calibration'):  # plain segmentor configs
            assert train.data_root == expected['source'], stage
        else:
            assert train.source.data_root == expected['source'], stage
            assert train.target.data_root == expected['target'], stage
            assert train.target.img_suffix == '.jpg', stage
        assert cfg.test_dataloader.dataset.data_root == expected['val'], stage
        assert cfg.test_dataloader.dataset.metainfo.classes == CLASSES, stage
        segmentor = cfg.model.get('segmentor', cfg.model)
        assert segmentor.decode_head.num_classes == 3, stage
    calibration = Config.fromfile(str(work / 'calibration' / 'config.py'))
    assert calibration.target_train_dataset.data_root == expected['target']


def test_the_exported_model_predicts_with_mmseg_apis(finished, user_tree, monkeypatch):
    from mmseg.apis import MMSegInferencer, inference_model, init_model
    work, _ = finished
    monkeypatch.chdir(user_tree)  # the exported config's data paths are relative
    config, checkpoint = work / 'export' / 'model.py', work / 'export' / 'model.pth'
    cfg = Config.fromfile(str(config))
    assert cfg.model.type == 'EncoderDecoder' and 'train_dataloader' not in cfg
    model = init_model(str(config), str(checkpoint), device='cpu')
    assert list(model.dataset_meta['classes']) == CLASSES
    image = next((user_tree / 'data' / 'dashcam').glob('*.jpg'))
    result = inference_model(model, str(image))
    assert tuple(result.pred_sem_seg.shape) == (32, 64)
    assert int(result.pred_sem_seg.data.max()) < 3
    inferencer = MMSegInferencer(str(config), str(checkpoint), device='cpu')
    output = inferencer(str(image), return_vis=True)
    assert (output['predictions'] == result.pred_sem_seg.data[0].numpy()).all()
    # the painted prediction uses the config's classes and colours
    assert list(inferencer.visualizer.dataset_meta['classes']) == CLASSES
    assert [list(c) for c in inferencer.visualizer.dataset_meta['palette']] == [
        [128, 64, 128], [0, 0, 142], [70, 130, 180]]
    assert output['visualization'].shape == (32, 64, 3)


def test_init_model_takes_the_cpsl_stage_config_and_checkpoint(finished, user_tree,
                                                              monkeypatch):
    """mmseg's init_model sets model.pretrained and model.train_cfg on any config: the
    UDA wrapper takes them; the training checkpoint carries the classes."""
    from mmseg.apis import inference_model, init_model
    work, _ = finished
    monkeypatch.chdir(user_tree)
    record = json.loads((work / 'cpsl' / 'stage.json').read_text())
    model = init_model(record['config'], record['checkpoint'], device='cpu')
    assert type(model).__name__ == 'CPSL'
    assert list(model.dataset_meta['classes']) == CLASSES
    image = next((user_tree / 'data' / 'dashcam').glob('*.jpg'))
    result = inference_model(model, str(image))
    exported = init_model(str(work / 'export' / 'model.py'),
                          str(work / 'export' / 'model.pth'), device='cpu')
    assert (inference_model(exported, str(image)).pred_sem_seg.data ==
            result.pred_sem_seg.data).all()  # the export is the network that predicts


def test_folder_dataset_names_a_missing_label_and_missing_classes(tmp_path):
    from mmseg.registry import DATASETS
    (tmp_path / 'img').mkdir()
    (tmp_path / 'gt').mkdir()
    for name in ('a', 'b'):
        cv2.imwrite(str(tmp_path / 'img' / f'{name}.jpg'), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'gt' / 'a_label.png'), np.zeros((8, 8), np.uint8))
    folders = dict(type='FolderSegDataset', data_root=str(tmp_path),
                   data_prefix=dict(img_path='img', seg_map_path='gt'),
                   img_suffix='.jpg', seg_map_suffix='_label.png')
    with pytest.raises(ValueError, match='metainfo.classes'):
        DATASETS.build(folders)
    with pytest.raises(FileNotFoundError, match='b.jpg has no label file .*b_label.png'):
        DATASETS.build(dict(folders, metainfo=dict(classes=CLASSES)))
    unlabelled = DATASETS.build(dict(folders, data_prefix=dict(img_path='img'),
                                     metainfo=dict(classes=CLASSES)))
    assert len(unlabelled) == 2 and 'seg_map_path' not in unlabelled.get_data_info(0)
