"""The Eq. 7 / Eq. 10 pass: class prototypes and class pixel counts of the target
images, computed once before CPSL trains.

One implementation, used by ``OnlineClusteringHook`` (before the first iteration)
and by ``tools/compute_prototypes.py`` (offline, once per warm-up). It walks the
deterministic full-image stream of the target dataset
(:func:`~cpsl_mmseg.datasets.full_image_dataset`): each image once, whole, without
augmentation, so the statistics do not depend on a seed. Under DDP each rank takes
every ``world_size``-th image and the sums are all-reduced.
"""
import os
import os.path as osp
import tempfile
from typing import Optional, Tuple

import torch
from mmengine.dataset import pseudo_collate
from mmengine.dist import get_dist_info
from mmengine.utils import ProgressBar
from torch import Tensor

from ..clustering import PrototypeAccumulator
from ..datasets import full_image_dataset
from ..models.segmentors.uda_base import final_decode_head
from ..models.utils.feature_capture import feature_dim
from ..utils.offline_inference import same_size_batches


@torch.no_grad()
def compute_initial_statistics(model, target_dataset, batch_size: int,
                               max_batches: Optional[int] = None
                               ) -> Tuple[Tensor, Tensor]:
    """Eq. 7 prototypes and Eq. 10 counts of ``target_dataset`` under ``model``.

    Args:
        model: a ``CPSL`` model (teacher features, ``Y_ST = argmax P_ST``).
        target_dataset: the target training set (config or built dataset); its
            pipeline's loading steps are kept, everything else is replaced.
        batch_size: images per forward pass (equal-size images are batched).
        max_batches: cap on this rank's batches (default: all its images).

    Returns:
        (prototypes (C, D) float32, class_counts (C,) int64) on the CPU, summed over
        ranks.
    """
    stream = full_image_dataset(target_dataset,
                                with_soft_labels=model.pseudo_label_source == 'stored')
    rank, world_size = get_dist_info()
    indices = range(rank, len(stream), world_size)
    # On the model's device: NCCL reduces CUDA tensors only.
    accumulator = PrototypeAccumulator(
        model.num_classes, feature_dim(final_decode_head(model.teacher))).to(
            next(model.parameters()).device)
    was_training = model.training
    model.eval()
    progress = ProgressBar(len(indices))
    for step, batch in enumerate(same_size_batches(stream, indices, batch_size)):
        if max_batches is not None and step >= max_batches:
            break
        data = model.data_preprocessor(pseudo_collate(batch), False)
        model.accumulate_initial_statistics(data['inputs'], data['data_samples'],
                                            accumulator)
        progress.update(len(batch))
    print()
    model.train(was_training)
    accumulator.all_reduce()
    return accumulator.compute().cpu(), accumulator.counts.cpu()


def save_statistics(path: str, prototypes: Tensor, class_counts: Tensor) -> None:
    """Atomically write an ``init_file`` for ``OnlineClusteringHook``."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix='.tmp')
    os.close(fd)
    try:
        torch.save(dict(prototypes=prototypes.float(), class_counts=class_counts.double()),
                   tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def load_statistics(path: str, num_classes: int) -> dict:
    """Read and check an ``init_file`` (names the file on any problem)."""
    try:
        stats = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(
            f'OnlineClusteringHook.init_file not found: {path}') from None
    for key in ('prototypes', 'class_counts'):
        if key not in stats:
            raise KeyError(f'{path} has no {key!r} entry (expected the output '
                           'of tools/compute_prototypes.py)')
    if stats['prototypes'].shape[0] != num_classes or stats[
            'class_counts'].shape != (num_classes, ):
        raise ValueError(
            f'{path}: prototypes {tuple(stats["prototypes"].shape)} / counts '
            f'{tuple(stats["class_counts"].shape)} do not match '
            f'{num_classes} classes')
    return stats
