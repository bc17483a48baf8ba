"""ClassMix masks: the pixels of half of the classes of a source label, to be pasted
onto a target crop (ClassMix, Olsson et al. 2021; DACS and DAFormer mix this way).

Which classes are candidates (``class_pool``):

* ``'image'`` (default, ClassMix's definition): the classes present in each source
  label; each image pastes ceil(n / 2) of its own n classes.
* ``'batch'`` (DAFormer's code, ``get_class_masks``): the classes present anywhere in
  the batch's source labels; each image draws ceil(n / 2) of the batch's n classes, so
  a drawn class may be absent from that image and it can paste less than half of its
  own classes (or nothing).

The ignore label is never a candidate (DAFormer's pool can draw 255 and then pastes
unlabelled source pixels, which carry no loss). Draws come from torch's global RNG.
"""
from typing import Optional

import torch
from torch import Tensor

CLASS_POOLS = ('image', 'batch')


def half_of(classes: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """ceil(n / 2) of the n entries of ``classes`` (1-D), drawn without replacement."""
    count = (classes.numel() + 1) // 2
    order = torch.randperm(classes.numel(), generator=generator)
    return classes[order[:count].to(classes.device)]


def class_mix_masks(source_labels: Tensor,
                    ignore_index: int = 255,
                    class_pool: str = 'image',
                    generator: Optional[torch.Generator] = None) -> Tensor:
    """(B, H, W) bool: True on the source pixels whose class was drawn for pasting.

    Args:
        source_labels: (B, H, W) long source labels (``ignore_index`` = unlabelled).
        ignore_index: label that is never drawn.
        class_pool: ``'image'`` or ``'batch'`` (module docstring).
        generator: optional torch generator (default: the global RNG).

    Every pixel of a drawn class is in the mask, and only those: whole classes.
    """
    if class_pool not in CLASS_POOLS:
        raise ValueError(f'class_pool must be one of {CLASS_POOLS}, got {class_pool!r}')
    masks = torch.zeros_like(source_labels, dtype=torch.bool)
    batch_classes = source_labels.unique()
    batch_classes = batch_classes[batch_classes != ignore_index]
    for i, label in enumerate(source_labels):
        pool = batch_classes
        if class_pool == 'image':
            pool = label.unique()
            pool = pool[pool != ignore_index]
        if pool.numel():
            masks[i] = torch.isin(label, half_of(pool, generator))
    return masks
