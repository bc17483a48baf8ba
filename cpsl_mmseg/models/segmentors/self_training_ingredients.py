"""The DAFormer / MIC ingredients of mean-teacher self-training, one config key and
one method each; :class:`~.mean_teacher.MeanTeacherSelfTraining` (and so ``CPSL``)
takes the keys as arguments and calls the methods from its steps.

Every ingredient is off by default, and then adds no loss, no state and no random
draw: a config without them trains exactly as before. Config keys (``model.*``):

* ``mix``: ``'cutmix'`` (default: boxes, ``cutmix_prob`` / ``cutmix_box``) or
  ``'classmix'`` (DACS / DAFormer: every target crop gets the pixels of half of the
  classes of a source label, :mod:`..utils.classmix`). CPSL pastes the source labels
  there and keeps its rectified labels elsewhere.
* ``classmix_class_pool``: ``'image'`` (default: each source label's own classes) or
  ``'batch'`` (DAFormer's code: the classes of the whole source batch).
* ``mix_augmentation``: colour jitter and Gaussian blur of the mixed image,
  :class:`..utils.color_augmentation.ColorJitterBlur` kwargs (DAFormer:
  ``dict(color_jitter_strength=0.2, color_jitter_prob=0.8, blur_prob=0.5)``).
* ``pseudo_label_weighting``: :class:`..utils.quality_weight.PseudoLabelQualityWeight`
  kwargs: L_tgt of each image weighted by its share of pixels whose pseudo-label
  confidence reaches ``threshold`` (DAFormer: 0.968; its GTA5 -> Cityscapes config
  also sets ``ignore_top=15, ignore_bottom=120``). Pasted source pixels keep weight 1.
  The confidence is the pseudo-label step's (``PseudoLabels.confidence``): the
  teacher's max softmax for the mean teacher, the normalised max of P_SL * P_ST for
  CPSL.
* ``teacher_momentum_rampup``: DAFormer's EMA ramp-up (DAFormer: on): the t-th
  teacher update uses decay ``min(1 - 1 / (t + 1), 1 - teacher_momentum)``; t is the
  buffer ``teacher_updates``, saved with the model, so a resumed run continues the
  ramp where it stopped. CPSL's momentum head keeps its fixed momentum.
* ``feature_distance``: DAFormer's ImageNet feature distance on thing classes,
  :class:`..utils.feature_distance.ImageNetFeatureDistance` kwargs (DAFormer:
  ``dict(loss_weight=0.005, classes=[6, 7, 11, 12, 13, 14, 15, 16, 17, 18],
  scale_min_ratio=0.75)``); the backbone must name pretrained weights (or give
  ``init_cfg``). Logged as ``src.loss_feature_distance``.
* ``masked_consistency``: MIC: ``dict(block_size, mask_ratio, loss_weight,
  color_augmentation)`` (MIC: 64, 0.7, 1.0 at 512x512 crops, DAFormer's jitter /
  blur): the student on the weak target view, colour-augmented and block-masked
  (:mod:`..utils.masking`), learns the pseudo labels Y^ (CPSL: the rectified ones)
  with their quality weight. Logged as ``masked.loss_tgt``.
"""
import warnings
from functools import partial
from typing import Dict, Optional, Tuple, Union

import torch
from mmseg.models.utils import resize
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from ...clustering import normalised_confidence
from ..utils.classmix import CLASS_POOLS, class_mix_masks
from ..utils.color_augmentation import ColorJitterBlur
from ..utils.cutmix import half_area_batch_box, random_box_masks
from ..utils.ema import rampup_momentum
from ..utils.feature_capture import capture_outputs
from ..utils.feature_distance import ImageNetFeatureDistance
from ..utils.masking import BlockMasking
from ..utils.quality_weight import PseudoLabelQualityWeight
from .step_outputs import PseudoLabels

MIX_MODES = ('cutmix', 'classmix')


def as_pseudo_labels(output: Union[PseudoLabels, Tuple[Tensor, Tensor]],
                     padding: Tensor) -> PseudoLabels:
    """The pseudo-label step's output as :class:`PseudoLabels`. The (P_ST, Y^) pair the
    step returned before it had a confidence is still taken, with max P_ST as the
    confidence and a DeprecationWarning."""
    if isinstance(output, PseudoLabels):
        return output
    warnings.warn('pseudo_labels() returning (P_ST, Y^) is deprecated: return '
                  'PseudoLabels(p_st, labels, confidence)', DeprecationWarning)
    p_st, labels = output
    return PseudoLabels(p_st, labels, normalised_confidence(p_st).masked_fill(padding, 0.0))


def check_choice(key: str, value: str, choices: tuple) -> None:
    """ValueError naming ``model.<key>`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f'model.{key} must be one of {choices}, got {value!r}')


def build_option(factory, cfg: dict, config_key: str):
    """``factory(**cfg, config_key=config_key)``; a wrong key is a TypeError naming
    ``config_key``."""
    try:
        return factory(**dict(cfg), config_key=config_key)
    except TypeError as error:
        raise TypeError(f'{config_key}: {error}') from None


def source_labels_of(samples: SampleList, like: Tensor) -> Tensor:
    """(B, H, W) source labels of the packed source samples, on ``like``'s device."""
    return torch.stack([s.gt_sem_seg.data[0] for s in samples]).to(like.device)


class SelfTrainingIngredients:
    """Mixin of :class:`~.mean_teacher.MeanTeacherSelfTraining`: builds the options of
    the module docstring and implements one step per ingredient."""

    def build_ingredients(self, segmentor: ConfigType, mix: str, classmix_class_pool: str,
                          mix_augmentation: OptConfigType,
                          pseudo_label_weighting: OptConfigType,
                          teacher_momentum_rampup: bool, feature_distance: OptConfigType,
                          masked_consistency: OptConfigType) -> None:
        """Check the keys and build what they ask for (None when off)."""
        check_choice('mix', mix, MIX_MODES)
        check_choice('classmix_class_pool', classmix_class_pool, CLASS_POOLS)
        self.mix, self.classmix_class_pool = mix, classmix_class_pool
        self.mix_augmentation = self.color_augmentation(mix_augmentation,
                                                        'model.mix_augmentation')
        self.quality_weight = None if pseudo_label_weighting is None else build_option(
            PseudoLabelQualityWeight, pseudo_label_weighting, 'model.pseudo_label_weighting')
        self.teacher_momentum_rampup = teacher_momentum_rampup
        if teacher_momentum_rampup:
            self.register_buffer('teacher_updates', torch.tensor(0), persistent=True)
        self.feature_distance = None if feature_distance is None else build_option(
            partial(ImageNetFeatureDistance, segmentor, self.num_classes, self.ignore_index),
            feature_distance, 'model.feature_distance')
        self.block_masking = self.masked_augmentation = None
        if masked_consistency is not None:
            key, masking = 'model.masked_consistency', dict(masked_consistency)
            self.masked_loss_weight = float(masking.pop('loss_weight', 1.0))
            self.masked_augmentation = self.color_augmentation(
                masking.pop('color_augmentation', None), f'{key}.color_augmentation')
            self.block_masking = build_option(BlockMasking, masking, key)

    def color_augmentation(self, cfg: OptConfigType,
                           config_key: str) -> Optional[ColorJitterBlur]:
        """``ColorJitterBlur`` around the data preprocessor's normalisation (None: off)."""
        if cfg is None:
            return None
        mean, std = (getattr(self.data_preprocessor, k, None) for k in ('mean', 'std'))
        if mean is None or std is None:
            raise ValueError(f'{config_key} needs a data preprocessor that normalises '
                             '(mean, std): the jitter works on the unnormalised colours')
        return build_option(partial(ColorJitterBlur, mean.flatten().tolist(),
                                    std.flatten().tolist()), cfg, config_key)

    # -------------------------------------------------------------- EMA
    def teacher_update_momentum(self) -> float:
        """The momentum of this teacher update: ``teacher_momentum``, or with the
        ramp-up :func:`..utils.ema.rampup_momentum` of the update count (which this
        call advances)."""
        if not self.teacher_momentum_rampup:
            return self.teacher_momentum
        self.teacher_updates += 1
        return rampup_momentum(int(self.teacher_updates), self.teacher_momentum)

    # ------------------------------------------------------------ source
    def source_losses_with_feature_distance(self, inputs: Tensor,
                                            data_samples: SampleList) -> Dict[str, Tensor]:
        """The student's source losses plus the ImageNet feature distance of its last
        backbone output on thing-class cells (same forward)."""
        if not self.feature_distance.is_init:
            raise RuntimeError('model.feature_distance: the frozen ImageNet backbone was '
                               'never initialised: call model.init_weights() (the Runner '
                               'does) before training')
        with capture_outputs(self.student.backbone) as captured:
            losses = self.student.loss(inputs, data_samples)
        losses['loss_feature_distance'] = self.feature_distance(
            captured[0][-1], inputs, source_labels_of(data_samples, inputs))
        return losses

    # ------------------------------------------------------------ mixing
    def source_mask(self, source_labels: Tensor) -> Tensor:
        """(B, H, W) bool, the source pixels pasted onto the target: CutMix boxes
        (Sec. 4.1) or, with ``mix='classmix'``, half of the classes (ClassMix)."""
        if self.mix == 'classmix':
            return class_mix_masks(source_labels, self.ignore_index,
                                   self.classmix_class_pool)
        boxes = random_box_masks if self.cutmix_box == 'per_image' else half_area_batch_box
        return boxes(source_labels.shape[0], *source_labels.shape[-2:],
                     prob=self.cutmix_prob, device=source_labels.device)

    # ------------------------------------------------------------ weights
    def pseudo_label_weight(self, confidence: Tensor, padding: Tensor) -> Optional[Tensor]:
        """DAFormer's quality weight (B, H, W) of the pseudo labels from their
        ``confidence`` (B, H, W); None without ``pseudo_label_weighting``."""
        if self.quality_weight is None:
            return None
        return self.quality_weight(confidence, ~padding)

    def weighted_target_loss(self, logits: Tensor, labels: Tensor,
                             weight: Optional[Tensor]) -> Tensor:
        """``loss_target`` (Eq. 2) of (B, C, h, w) logits upsampled to the (B, H, W)
        labels, each pixel weighted by ``weight`` (B, H, W) when given."""
        logits = resize(logits, size=labels.shape[-2:], mode='bilinear',
                        align_corners=self.align_corners)
        if weight is None:
            return self.loss_target(logits, labels)
        return self.loss_target(logits, labels, weight=weight)

    # --------------------------------------------------------------- MIC
    def masked_consistency_losses(self, weak: Tensor, labels: Tensor,
                                  weight: Optional[Tensor]) -> Dict[str, Tensor]:
        """MIC: the student on the weak view (B, 3, H, W), colour-augmented then
        block-masked, learns the pseudo labels (B, H, W) with their quality weight;
        ``{}`` without ``masked_consistency``."""
        if self.block_masking is None:
            return {}
        image = weak if self.masked_augmentation is None else self.masked_augmentation(weak)
        logits = self.student._forward(self.block_masking(image))
        loss = self.masked_loss_weight * self.weighted_target_loss(logits, labels, weight)
        return {f'masked.{self.loss_target.loss_name}': loss}
