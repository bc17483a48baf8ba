"""Networks, target images and batches of the offline tools (soft pseudo labels, and the
lab's BN calibration and pseudo-label analysis)."""
from typing import Iterable, Iterator, List

import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from ..datasets import full_image_dataset
from ..models.utils.stage_checkpoint import load_checked


def target_dataset_cfg(cfg: Config) -> dict:
    """The target training set of a UDA config (or its ``target_train_dataset``).

    Raises:
        KeyError: naming the config file when neither is present.
    """
    dataset = cfg.train_dataloader.dataset
    if dataset.get('type') == 'UDADataset':
        return dataset.target
    if 'target_train_dataset' in cfg:
        return cfg.target_train_dataset
    raise KeyError(f'{cfg.filename}: no target dataset: expected '
                   'train_dataloader.dataset of type UDADataset (or a '
                   'target_train_dataset entry)')


def build_target_images(cfg: Config):
    """The target training images of ``cfg``, whole, in order, without augmentation,
    labels or soft pseudo labels."""
    return full_image_dataset(target_dataset_cfg(cfg), with_soft_labels=False)


def segmentor_cfg(cfg: Config) -> dict:
    """The adapted segmentor of a config: ``model.segmentor`` of a UDA wrapper (CPSL,
    the mean teacher, the adversarial warm-up), else ``model`` itself; with the
    wrapper's (or the top-level) data preprocessor when it names none."""
    model = cfg.model
    network = dict(model.segmentor if 'segmentor' in model else model)
    if network.get('data_preprocessor') is None:
        network['data_preprocessor'] = model.get('data_preprocessor') or cfg.get(
            'data_preprocessor')
    return network


def build_warmup_network(cfg: Config, checkpoint: str,
                         config_key: str = 'CHECKPOINT') -> torch.nn.Module:
    """The config's segmentor (:func:`segmentor_cfg`), loaded strictly from
    ``checkpoint`` (a plain segmentor file), in eval mode."""
    model = MODELS.build(segmentor_cfg(cfg))
    load_checked(model, checkpoint, config_key)
    return model.eval()


def same_size_batches(dataset, indices: Iterable[int],
                      batch_size: int) -> Iterator[List[dict]]:
    """The samples at ``indices`` in order, in batches of ``batch_size``; a batch closes
    early when the image size changes (the test-mode preprocessor stacks equal sizes
    only)."""
    batch: List[dict] = []
    for idx in indices:
        sample = dataset[idx]
        if batch and (len(batch) == batch_size or
                      batch[0]['inputs'].shape != sample['inputs'].shape):
            yield batch
            batch = []
        batch.append(sample)
    if batch:
        yield batch
