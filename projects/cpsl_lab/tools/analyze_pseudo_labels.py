"""Pseudo-label quality of a CPSL checkpoint on the target training images.

    python projects/cpsl_lab/tools/analyze_pseudo_labels.py CONFIG CHECKPOINT \
        --out-dir DIR [--cfg-options ...] [--num-qualitative 4] [--max-images N] \
        [--gt-seg-map-path PATH] [--batch-size 4]

CONFIG (the one that trained CHECKPOINT, e.g. a pipeline stage's ``config.py``)
builds the model (``CPSL`` or ``MeanTeacherSelfTraining``), loaded strictly from
CHECKPOINT. The images are those of ``train_dataloader.dataset.target``, whole, in
order and without augmentation. For every batch the pseudo labels are made by the
model's own pseudo-label step, exactly as in training (``model.pseudo_labels``: the
teacher on the image, P_ST from stored maps, the frozen warm-up model or the teacher;
for CPSL P_SL of the momentum head and the rectified label Y^ of Eq. 1); the
prediction is ``model.predict`` (the network of ``model.predict_with``).

Target ground truth is read **for evaluation only**: from ``--gt-seg-map-path``
(relative to the dataset's ``data_root``, like ``data_prefix``), else the target
config's ``data_prefix.seg_map_path``, else the image folder with its ``images``
component replaced by ``labels`` (the toy and smoke layouts).

Writes ``DIR/pseudo_label_stats.json`` (class distributions of the ground truth,
of Y^ and of argmax P_ST; KL(ground truth || pseudo labels); IoU of Y^, argmax P_ST
and the prediction against the ground truth) and ``DIR/qualitative.png`` (first N
images: image | ground truth | argmax P_ST | rectified label | prediction; white =
ignore). Nothing is written unless the whole analysis succeeds.
"""
import argparse
import json
import os
import os.path as osp
from typing import Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from mmseg.registry import DATASETS, MODELS

import cpsl_mmseg  # noqa: F401  (registers the plug-in's components)
from cpsl_lab.analysis.figures import colorize, plot_qualitative
from cpsl_lab.analysis.statistics import (ConfusionMatrix, class_counts,
                                          kl_divergence, shares)
from cpsl_mmseg.datasets.target_stream import loading_steps
from cpsl_mmseg.models.segmentors import MeanTeacherSelfTraining
from cpsl_mmseg.models.utils.stage_checkpoint import load_checked
from cpsl_mmseg.utils.offline_inference import same_size_batches

KL_EPSILON = 1e-6
COLUMNS = ('image', 'ground truth', 'argmax P_ST', 'rectified pseudo label',
           'prediction')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='CPSL config the checkpoint was trained '
                        'with')
    parser.add_argument('checkpoint', help='CPSL checkpoint (e.g. iter_N.pth)')
    parser.add_argument('--out-dir', required=True,
                        help='directory for pseudo_label_stats.json and '
                        'qualitative.png')
    parser.add_argument('--num-qualitative', type=int, default=4,
                        help='rows of qualitative.png (first N images)')
    parser.add_argument('--max-images', type=int,
                        help='analyse only the first N target images')
    parser.add_argument('--gt-seg-map-path',
                        help='folder of the target train labels (relative to '
                        'the dataset data_root, or absolute)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    if args.num_qualitative < 0 or args.batch_size < 1 or (
            args.max_images is not None and args.max_images < 1):
        parser.error('--num-qualitative must be >= 0, --batch-size and '
                     '--max-images >= 1')
    return args


def labels_folder(img_path: str) -> Optional[str]:
    """The toy/smoke label folder of an image folder: ``images`` -> ``labels`` in
    the last path component named ``images``; None when there is none."""
    parts = img_path.replace('\\', '/').split('/')
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == 'images':
            parts[i] = 'labels'
            return '/'.join(parts)
    return None


def evaluation_dataset_cfg(cfg: Config, gt_seg_map_path: Optional[str],
                           use_stored_p_st: bool) -> dict:
    """``train_dataloader.dataset.target`` with an augmentation-free pipeline that
    also loads the ground truth (for evaluation only)."""
    dataset = cfg.train_dataloader.dataset
    if dataset.get('type') != 'UDADataset':
        raise KeyError(f'{cfg.filename}: train_dataloader.dataset must be a '
                       'UDADataset (its target is analysed)')
    target = dict(dataset.target)
    prefix = dict(target.get('data_prefix') or {})
    seg_map_path = (gt_seg_map_path or prefix.get('seg_map_path')
                    or labels_folder(prefix.get('img_path', '')))
    if not seg_map_path:
        raise KeyError(
            f'{cfg.filename}: cannot locate the target train labels: '
            'train_dataloader.dataset.target.data_prefix.img_path '
            f'({prefix.get("img_path")!r}) has no "images" folder to map to '
            '"labels"; pass --gt-seg-map-path')
    prefix['seg_map_path'] = seg_map_path
    target['data_prefix'] = prefix
    loaders = loading_steps(target.get('pipeline', []), use_stored_p_st)
    if use_stored_p_st and not any(
            step['type'] == 'LoadSoftPseudoLabel' for step in loaders):
        raise KeyError(
            f"{cfg.filename}: model.pseudo_label_source='stored' but "
            'train_dataloader.dataset.target.pipeline has no LoadSoftPseudoLabel')
    target['pipeline'] = loaders + [dict(type='LoadAnnotations'),
                                    dict(type='PackUDATargetInputs')]
    return target


def check_ground_truth(dataset, num_images: int) -> None:
    """Every analysed image has its label file (named in the error otherwise)."""
    for idx in range(num_images):
        info = dataset.get_data_info(idx)
        if not osp.isfile(info['seg_map_path']):
            raise FileNotFoundError(
                f'ground-truth label {info["seg_map_path"]} of target image '
                f'{info["img_path"]} is missing (target train labels are '
                'needed for this evaluation; set --gt-seg-map-path)')


def build_model(cfg: Config, checkpoint: str) -> MeanTeacherSelfTraining:
    model_cfg = dict(cfg.model)
    # as mmengine's Runner: the top-level data_preprocessor is the default
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model = MODELS.build(model_cfg)
    if not isinstance(model, MeanTeacherSelfTraining):
        raise TypeError(f'{cfg.filename}: model.type must be CPSL or '
                        f'MeanTeacherSelfTraining, got {model_cfg.get("type")!r}')
    load_checked(model, checkpoint, 'CHECKPOINT')
    return model.eval()


@torch.no_grad()
def pseudo_labels(model: MeanTeacherSelfTraining, inputs: torch.Tensor,
                  samples: list) -> Tuple[torch.Tensor, torch.Tensor]:
    """P_ST (B, C, H, W) and Y^ (B, H, W) of a target batch, as in training."""
    teacher = model.teacher_forward(inputs)
    padding = model.padding_mask(inputs, samples)
    pseudo = model.pseudo_labels(inputs, samples, teacher, padding)
    return pseudo.p_st, pseudo.labels


def hard_p_st(p_st: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """argmax P_ST (H, W); pixels without probabilities become ignore."""
    hard = p_st.argmax(dim=0)
    hard[p_st.sum(dim=0) <= 0] = ignore_index
    return hard


def _fmt(value: Optional[float]) -> str:
    return 'n/a' if value is None else f'{value:.2f}'


def write_json(path: str, data: dict) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    device = 'cuda' if torch.cuda.is_available() else 'cpu'

    model = build_model(cfg, args.checkpoint).to(device)
    dataset = DATASETS.build(
        evaluation_dataset_cfg(cfg, args.gt_seg_map_path,
                               model.pseudo_label_source == 'stored'))
    classes = list(dataset.metainfo['classes'])
    palette = dataset.metainfo['palette']
    if len(classes) != model.num_classes:
        raise ValueError(f'{args.config}: the target dataset has {len(classes)} '
                         f'classes, the model {model.num_classes}')
    num_images = len(dataset) if args.max_images is None else min(
        args.max_images, len(dataset))
    if num_images == 0:
        raise ValueError(f'{args.config}: train_dataloader.dataset.target is '
                         'empty: check its data_root and data_prefix')
    check_ground_truth(dataset, num_images)

    num_classes, ignore = model.num_classes, model.ignore_index
    counts = {key: torch.zeros(num_classes, dtype=torch.int64)
              for key in ('gt', 'pseudo', 'p_st')}
    scores = {key: ConfusionMatrix(num_classes, ignore)
              for key in ('pseudo_label', 'p_st_argmax', 'prediction')}
    rows, row_titles = [], []
    progress = ProgressBar(num_images)
    for batch in same_size_batches(dataset, range(num_images), args.batch_size):
        data = model.data_preprocessor(pseudo_collate(batch), False)
        inputs, samples = data['inputs'], data['data_samples']
        p_st, rectified = pseudo_labels(model, inputs, samples)
        predictions = model.predict(inputs, samples)
        for i, sample in enumerate(samples):
            height, width = sample.img_shape
            maps = dict(
                gt=sample.gt_sem_seg.data[0].cpu(),
                p_st=hard_p_st(p_st[i, :, :height, :width], ignore).cpu(),
                pseudo=rectified[i, :height, :width].cpu(),
                prediction=predictions[i].pred_sem_seg.data[0].cpu())
            for key in counts:
                counts[key] += class_counts(maps[key], num_classes, ignore)
            scores['pseudo_label'].update(maps['pseudo'], maps['gt'])
            scores['p_st_argmax'].update(maps['p_st'], maps['gt'])
            scores['prediction'].update(maps['prediction'], maps['gt'])
            if len(rows) < args.num_qualitative:
                image = batch[i]['inputs'].permute(1, 2, 0).numpy()[..., ::-1]
                rows.append([np.ascontiguousarray(image)] + [
                    colorize(maps[key].numpy(), palette, ignore)
                    for key in ('gt', 'p_st', 'pseudo', 'prediction')
                ])
                row_titles.append(osp.basename(sample.img_path))
        progress.update(len(batch))
    print()

    gt_dist = shares(counts['gt'])
    pseudo_dist = shares(counts['pseudo'])
    p_st_dist = shares(counts['p_st'])
    stats = dict(
        config=osp.abspath(args.config),
        checkpoint=osp.abspath(args.checkpoint),
        classes=classes,
        num_images=num_images,
        use_self_labeling=bool(getattr(model, 'use_self_labeling', False)),
        pseudo_label_source=model.pseudo_label_source,
        predict_with=model.predict_with,
        gt_distribution=gt_dist,
        pseudo_distribution=pseudo_dist,
        p_st_distribution=p_st_dist,
        kl_epsilon=KL_EPSILON,
        kl_gt_to_pseudo=kl_divergence(gt_dist, pseudo_dist, KL_EPSILON),
        kl_gt_to_p_st=kl_divergence(gt_dist, p_st_dist, KL_EPSILON),
        **{key: matrix.summary(classes) for key, matrix in scores.items()})
    os.makedirs(args.out_dir, exist_ok=True)
    if rows:
        figure = osp.join(args.out_dir, 'qualitative.png')
        plot_qualitative(rows, COLUMNS, figure, row_titles)
        print(f'wrote {figure}')
    stats_path = osp.join(args.out_dir, 'pseudo_label_stats.json')
    write_json(stats_path, stats)
    print(f'wrote {stats_path}: mIoU of the pseudo labels '
          f'{_fmt(stats["pseudo_label"]["mIoU"])}, of argmax P_ST '
          f'{_fmt(stats["p_st_argmax"]["mIoU"])}, of the prediction '
          f'{_fmt(stats["prediction"]["mIoU"])}; KL(gt || pseudo) '
          f'{stats["kl_gt_to_pseudo"]:.4f}')


if __name__ == '__main__':
    main()
