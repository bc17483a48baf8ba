"""Re-estimate a warm-up checkpoint's BN statistics on the target training images.

    python tools/calibrate_batch_norm.py CONFIG WARMUP_CHECKPOINT --out CALIBRATED.pth

The network and the images are those of ``tools/generate_pseudo_labels.py`` (the
config's segmentor; the target training images, ``train_dataloader.dataset.target``
of a UDA config or ``target_train_dataset`` of a segmentor config, read whole,
without augmentation or labels). Only BN running means and variances change
(averaged over batches of all target images, see
``cpsl_mmseg/engine/batch_norm_calibration.py``); every weight is kept. The output is
a new checkpoint (written atomically; the input is never overwritten; the input's
``meta.dataset_meta``, its classes, kept) that the pseudo-label, prototype and
adaptation stages load in place of the warm-up checkpoint. Pair it with
``model.freeze_norm_statistics=True`` so that adaptation keeps these statistics. Runs
on the GPU when there is one; lower ``--batch-size`` for large images (e.g. full
2048x1024 Cityscapes frames).
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

import cpsl_mmseg  # noqa: F401  (registers the plug-in's components)
from cpsl_mmseg.engine.batch_norm_calibration import recalibrate_batch_norm
from cpsl_mmseg.utils.model_export import checkpoint_meta
from cpsl_mmseg.utils.offline_inference import (build_target_images, build_warmup_network,
                                                same_size_batches)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='CPSL (or plain segmentor) config')
    parser.add_argument('checkpoint', help='warm-up model checkpoint')
    parser.add_argument('--out', required=True, help='output checkpoint')
    parser.add_argument('--batch-size', type=int, default=16,
                        help='images per forward pass (default: 16)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if osp.abspath(args.out) == osp.abspath(args.checkpoint):
        raise ValueError(f'--out {args.out} would overwrite the input checkpoint')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    dataset = build_target_images(cfg)
    if len(dataset) == 0:
        raise ValueError(f'{args.config}: the target training set is empty')
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = build_warmup_network(cfg, args.checkpoint, 'WARMUP_CHECKPOINT').to(device)
    progress = ProgressBar(len(dataset))

    def batches():
        for items in same_size_batches(dataset, range(len(dataset)), args.batch_size):
            yield model.data_preprocessor(pseudo_collate(items),
                                          False)['inputs']
            progress.update(len(items))

    num_layers = recalibrate_batch_norm(model, batches())
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.tmp'
    state_dict = {k: v.cpu() for k, v in model.state_dict().items()}
    meta = dict(calibrated_from=osp.abspath(args.checkpoint), target_images=len(dataset))
    classes = checkpoint_meta(args.checkpoint).get('dataset_meta')  # for mmseg's APIs
    if classes:
        meta['dataset_meta'] = classes
    torch.save(dict(state_dict=state_dict, meta=meta), tmp)
    os.replace(tmp, args.out)
    print(f'\n{num_layers} BN layers recalibrated on {len(dataset)} target '
          f'images: {args.out}')


if __name__ == '__main__':
    main()
