"""Networks, target images and batches of the offline inference tools (pseudo
labels, BN calibration, pseudo-label analysis)."""
import os.path as osp
from typing import Iterator, List

import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import load_checkpoint
from mmseg.registry import DATASETS, MODELS


def target_dataset_cfg(cfg: Config) -> dict:
    """The target training set of a UDA config (or its ``pseudo_label_dataset``).

    Raises:
        KeyError: naming the config file when neither is present.
    """
    dataset = cfg.train_dataloader.dataset
    if dataset.get('type') == 'UDADataset':
        return dataset.target
    if 'pseudo_label_dataset' in cfg:
        return cfg.pseudo_label_dataset
    raise KeyError(f'{cfg.filename}: no target dataset: expected '
                   'train_dataloader.dataset of type UDADataset (or a '
                   'pseudo_label_dataset entry)')


def build_target_images(cfg: Config):
    """The target training images without augmentation or labels."""
    target_cfg = dict(target_dataset_cfg(cfg))
    target_cfg['pipeline'] = [
        dict(type='LoadImageFromFile'),
        dict(type='PackSegInputs')
    ]
    return DATASETS.build(target_cfg)


def build_warmup_network(cfg: Config, checkpoint: str) -> torch.nn.Module:
    """The config's ``model.segmentor`` (or ``model`` for a plain EncoderDecoder
    config), loaded strictly from ``checkpoint``, in eval mode."""
    model_cfg = cfg.model.segmentor if cfg.model.get(
        'type') == 'CPSL' else cfg.model
    model_cfg = dict(model_cfg)
    if model_cfg.get('data_preprocessor') is None:
        model_cfg['data_preprocessor'] = cfg.model.get('data_preprocessor')
    return load_for_inference(MODELS.build(model_cfg), checkpoint)


def load_for_inference(model: torch.nn.Module,
                       checkpoint: str) -> torch.nn.Module:
    """Load ``checkpoint`` strictly (a DDP ``module.`` prefix is dropped) and
    return the model in eval mode.

    Raises:
        FileNotFoundError: naming the checkpoint when it does not exist.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                    revise_keys=[(r'^module\.', '')])
    return model.eval()


def same_size_batches(dataset, num_images: int,
                      batch_size: int) -> Iterator[List[dict]]:
    """The first ``num_images`` samples in order, in batches of ``batch_size``; a
    batch closes early when the image size changes (the test-mode preprocessor
    stacks equal sizes only)."""
    batch: List[dict] = []
    for idx in range(num_images):
        sample = dataset[idx]
        if batch and (len(batch) == batch_size or
                      batch[0]['inputs'].shape != sample['inputs'].shape):
            yield batch
            batch = []
        batch.append(sample)
    if batch:
        yield batch
