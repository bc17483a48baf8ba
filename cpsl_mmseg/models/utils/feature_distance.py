"""ImageNet feature distance on thing classes (DAFormer, Hoyer et al., CVPR 2022).

DAFormer keeps a frozen copy of the ImageNet-initialised network and adds, on the
source batch, ``lambda * mean ||F_student - F_ImageNet||_2`` over the cells of the
last feature map whose source label is a thing class, so that the student keeps the
ImageNet features of the classes a synthetic source renders worst (DAFormer: lambda
0.005, the Cityscapes thing classes 6, 7, 11-18). A feature cell's label is the
majority label of the pixels it covers, kept only when that majority holds at least
``scale_min_ratio`` of them (DAFormer: 0.75) and is not the ignore label
(``pooled_labels``).

Here the frozen copy is the student's backbone alone (DAFormer copies the whole
segmentor but only reads its backbone features), built from the segmentor's backbone
config and initialised from its pretrained weights; the distance is taken on the last
backbone output, before any neck.
"""
import copy
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor


def names_pretrained_weights(backbone_cfg: dict) -> bool:
    """Whether a backbone config loads pretrained weights: a ``pretrained`` argument
    (a file for mmseg's backbones, True for ``EfficientNetLite0``) or a
    ``Pretrained`` entry in its ``init_cfg``."""
    if backbone_cfg.get('pretrained'):
        return True
    init_cfg = backbone_cfg.get('init_cfg') or []
    entries = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return any(dict(entry).get('type') == 'Pretrained' for entry in entries)


def pretrained_backbone_cfg(segmentor: dict, init_cfg: Optional[dict],
                            config_key: str) -> dict:
    """The student's backbone config with its ImageNet initialisation: ``init_cfg``
    when given, else the backbone's own (or the segmentor's ``pretrained``).

    Raises:
        ValueError: naming ``config_key`` when no pretrained weights are named.
    """
    cfg = copy.deepcopy(dict(segmentor['backbone']))
    if init_cfg is not None:
        cfg.pop('pretrained', None)
        cfg['init_cfg'] = copy.deepcopy(init_cfg)
    elif segmentor.get('pretrained') and not cfg.get('pretrained'):
        cfg['pretrained'] = segmentor['pretrained']
    if not names_pretrained_weights(cfg):
        raise ValueError(
            f'{config_key} compares the student with the ImageNet-pretrained backbone, but '
            f"model.segmentor.backbone ({cfg.get('type')}) names no pretrained weights: "
            "set its init_cfg=dict(type='Pretrained', checkpoint=...) (or pretrained=...), "
            f'or {config_key}.init_cfg')
    return cfg


@torch.no_grad()
def pooled_labels(labels: Tensor, size: Sequence[int], num_classes: int,
                  ignore_index: int, min_ratio: float) -> Tensor:
    """(B, h, w) labels of feature cells from (B, H, W) pixel labels: each cell's
    majority label if it covers at least ``min_ratio`` of the cell's pixels (the ignore
    label counting as a class of its own), else ``ignore_index``."""
    labels = labels.long()
    ignored = labels == ignore_index
    one_hot = F.one_hot(torch.where(ignored, torch.full_like(labels, num_classes), labels),
                        num_classes + 1).permute(0, 3, 1, 2).float()
    shares, majority = F.adaptive_avg_pool2d(one_hot, tuple(size)).max(dim=1)
    keep = (shares >= min_ratio) & (majority != num_classes)
    return torch.where(keep, majority, torch.full_like(majority, ignore_index))


class ImageNetFeatureDistance(BaseModule):
    """The frozen ImageNet backbone and the thing-class feature distance (module
    docstring). Always in eval mode, no gradients; initialised by ``init_weights``.

    Args:
        segmentor: the student's segmentor config.
        num_classes / ignore_index: of the student's final head.
        classes: the thing classes whose cells the distance covers.
        loss_weight: lambda (DAFormer: 0.005).
        scale_min_ratio: majority share a cell needs (DAFormer: 0.75).
        init_cfg: initialisation of the frozen backbone (default: the student
            backbone's pretrained init).
        config_key: named in errors.
    """

    def __init__(self, segmentor: dict, num_classes: int, ignore_index: int,
                 classes: Sequence[int], loss_weight: float = 0.005,
                 scale_min_ratio: float = 0.75, init_cfg: Optional[dict] = None,
                 config_key: str = 'model.feature_distance') -> None:
        super().__init__()
        classes = list(classes)
        if not classes or any(not 0 <= c < num_classes for c in classes):
            raise ValueError(f'{config_key}.classes must be class ids in 0..{num_classes - 1}'
                             f', got {classes}')
        if not 0 < scale_min_ratio <= 1:
            raise ValueError(f'{config_key}.scale_min_ratio must lie in (0, 1], got '
                             f'{scale_min_ratio}')
        self.backbone = MODELS.build(pretrained_backbone_cfg(segmentor, init_cfg, config_key))
        self.backbone.requires_grad_(False)
        self.register_buffer('classes', torch.tensor(classes), persistent=False)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self.scale_min_ratio = scale_min_ratio

    def train(self, mode: bool = True) -> 'ImageNetFeatureDistance':
        return super().train(False)

    @torch.no_grad()
    def thing_cells(self, labels: Tensor, size: Sequence[int]) -> Tensor:
        """(B, h, w) bool: the feature cells whose pooled label is a thing class."""
        cells = pooled_labels(labels, size, self.num_classes, self.ignore_index,
                              self.scale_min_ratio)
        return torch.isin(cells, self.classes)

    def forward(self, student_feature: Tensor, images: Tensor, labels: Tensor) -> Tensor:
        """``loss_weight * mean ||F_student - F_ImageNet||_2`` over the thing cells.

        Args:
            student_feature: (B, D, h, w) last backbone output of the student.
            images: (B, 3, H, W) the source images it was computed from.
            labels: (B, H, W) their labels.

        Returns:
            Scalar; zero (attached to ``student_feature``) without thing cells.
        """
        with torch.no_grad():
            imagenet_feature = self.backbone(images)[-1]
        if imagenet_feature.shape != student_feature.shape:
            raise ValueError('ImageNetFeatureDistance: the frozen backbone gives '
                             f'{tuple(imagenet_feature.shape)}, the student '
                             f'{tuple(student_feature.shape)}')
        cells = self.thing_cells(labels, student_feature.shape[-2:])
        distance = (student_feature - imagenet_feature).norm(dim=1)
        if not bool(cells.any()):
            return student_feature.sum() * 0.0
        return self.loss_weight * distance[cells].mean()
