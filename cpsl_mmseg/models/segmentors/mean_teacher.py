"""Mean-teacher self-training: the plain baseline CPSL is measured against, and its base.

One :meth:`MeanTeacherSelfTraining.loss` call is one iteration on a paired batch::

    loss(inputs, data_samples)
     |- source_loss()          student on the source crop: L_src (CE, Eq. 3) [+ the
     |                         ImageNet feature distance, ``feature_distance``]
     |- teacher_forward()      EMA teacher f'_SEG on the weak target view: Z, logits
     |- pseudo_labels()        P_ST, the hard pseudo label Y^ and its confidence
     |                         (overridable: here the confident argmax of P_ST;
     |                         CPSL: Eq. 1)
     |- pseudo_label_losses()  what the pseudo-label step trains     (none here;
     |                                                               CPSL: L_SL)
     |- pseudo_label_weight()  [DAFormer's quality weight of Y^, ``pseudo_label_weighting``]
     |- target_losses()        mix_with_source(): CutMix [or ClassMix, ``mix``] of the
     |                         strong view [+ jitter / blur, ``mix_augmentation``]
     |                         student_forward(): logits and Z of the student
     |                         L_tgt (Eq. 2) [weighted], student_feature_losses() (none
     |                         here), consistency_losses(): L_REG (Eq. 13)
     '- masked_consistency_losses()  [MIC: the student on the block-masked weak view
                               learns Y^, ``masked_consistency``]

Bracketed steps are the DAFormer / MIC ingredients, off by default
(:mod:`.self_training_ingredients` documents each key and its DAFormer / MIC value).
After every optimiser step ``MeanTeacherHook`` calls :meth:`momentum_update` (EMA of
the teacher, :mod:`..utils.ema`; DAFormer's ramp-up with ``teacher_momentum_rampup``);
a second ``loss`` call without that update in between is an error naming
``custom_hooks``, since a teacher that never moves would silently turn self-training
into distillation from the warm-up.
"""
import copy
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList, add_prefix
from torch import Tensor

from ...clustering import confident_argmax, normalised_confidence
from ..utils.batch_norm import freeze_batch_norm
from ..utils.crop_mapping import crop_from_full
from ..utils.cutmix import paste
from ..utils.ema import check_momentum, momentum_update_
from ..utils.feature_capture import capture_pre_classifier_feature
from .self_training_ingredients import (SelfTrainingIngredients, as_pseudo_labels,
                                        check_choice, source_labels_of)
from .step_outputs import MixedBatch, PseudoLabels, StudentOutput, TeacherOutput
from .uda_base import StageInput, UDASegmentor, final_decode_head

PSEUDO_LABEL_SOURCES = ('stored', 'frozen_model', 'teacher')
CUTMIX_BOXES = ('per_image', 'per_batch_half_area')


@MODELS.register_module()
class MeanTeacherSelfTraining(SelfTrainingIngredients, UDASegmentor):
    """Self-training with an EMA teacher, weak/strong views and CutMix.

    Args:
        segmentor: config of the adapted mmseg segmentor (see ``UDASegmentor``).
        data_preprocessor: see ``UDASegmentor``.
        loss_target / loss_consistency: loss configs of Eq. 2 and Eq. 13
            (``loss_weight`` of the latter is lambda2).
        teacher_momentum: EMA momentum of the teacher f'_SEG, mmengine's convention
            (the weight of the new value: the paper's decay 0.999 is 0.001; 1 copies).
        teacher_train_mode: keep the teacher in train mode (dropout, batch-statistics
            BN) as the reference code does; default False (eval mode).
        teacher_feature: where the teacher's Z is taken: ``'before_dropout'``
            (default: the classifier's input without dropout noise) or
            ``'after_dropout'`` (the reference code; differs only in train mode).
        teacher_input: ``'weak_view'`` (default) or ``'full_image'`` (the reference
            code: the teacher on the whole image, ``FullImageView``, read at the crop).
        pseudo_label_source: where P_ST comes from: ``'teacher'`` (default: the EMA
            teacher's own softmax, plain self-training), ``'stored'`` (maps written by
            ``tools/generate_pseudo_labels.py``, loaded by the target pipeline) or
            ``'frozen_model'`` (``warmup_checkpoint`` run online on the weak view).
        warmup_checkpoint: segmentor checkpoint the student, the teacher and the
            frozen model start from (loaded strictly).
        confidence_threshold: pixels whose pseudo-label confidence is below it are
            ignored (0 = off).
        cutmix_prob: probability of pasting a source box into each target crop.
        cutmix_box: ``'per_image'`` (default: each crop its own box, area ratio
            uniform in [0, 1]) or ``'per_batch_half_area'`` (the reference code: one
            box of half the crop's area for the whole batch, pasted with
            ``cutmix_prob``).
        target_loss_view: the view L_tgt trains on: ``'strong'`` (default) or
            ``'weak'`` (the reference code; the strong view feeds L_REG only).
        use_strong_augmentation: False: the student sees the weak view, no CutMix.
        predict_with: ``'student'`` (default) or ``'teacher'`` for inference.
        freeze_norm_statistics: keep the student's BN running statistics as loaded
            (e.g. target-calibrated); BN layers normalise with them in training too,
            their affine weights still learn. Default False.
        mix, classmix_class_pool, mix_augmentation, pseudo_label_weighting,
        teacher_momentum_rampup, feature_distance, masked_consistency: the DAFormer /
            MIC ingredients, off by default (:mod:`.self_training_ingredients`).
        init_cfg: mmengine initialisation config of the wrapper.
    """

    def __init__(self,
                 segmentor: ConfigType,
                 data_preprocessor: OptConfigType = None,
                 loss_target: ConfigType = dict(type='RectifiedPseudoLabelLoss'),
                 loss_consistency: ConfigType = dict(
                     type='ConsistencyLoss', loss_weight=5.0),
                 teacher_momentum: float = 0.001,
                 teacher_train_mode: bool = False,
                 teacher_feature: str = 'before_dropout',
                 teacher_input: str = 'weak_view',
                 pseudo_label_source: str = 'teacher',
                 warmup_checkpoint: Optional[str] = None,
                 confidence_threshold: float = 0.0,
                 cutmix_prob: float = 0.5,
                 cutmix_box: str = 'per_image',
                 target_loss_view: str = 'strong',
                 use_strong_augmentation: bool = True,
                 predict_with: str = 'student',
                 freeze_norm_statistics: bool = False,
                 mix: str = 'cutmix',
                 classmix_class_pool: str = 'image',
                 mix_augmentation: OptConfigType = None,
                 pseudo_label_weighting: OptConfigType = None,
                 teacher_momentum_rampup: bool = False,
                 feature_distance: OptConfigType = None,
                 masked_consistency: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(segmentor, data_preprocessor, init_cfg)
        check_choice('pseudo_label_source', pseudo_label_source, PSEUDO_LABEL_SOURCES)
        check_choice('predict_with', predict_with, ('student', 'teacher'))
        check_choice('teacher_feature', teacher_feature, ('before_dropout', 'after_dropout'))
        check_choice('cutmix_box', cutmix_box, CUTMIX_BOXES)
        check_choice('teacher_input', teacher_input, ('weak_view', 'full_image'))
        check_choice('target_loss_view', target_loss_view, ('strong', 'weak'))
        if pseudo_label_source == 'frozen_model' and not warmup_checkpoint:
            raise ValueError("model.pseudo_label_source='frozen_model' needs "
                             'model.warmup_checkpoint')
        self.teacher = copy.deepcopy(self.student)
        self.teacher.requires_grad_(False)
        self.frozen_model = None
        if pseudo_label_source == 'frozen_model':
            self.frozen_model = copy.deepcopy(self.student)
            self.frozen_model.requires_grad_(False)
        self.loss_target = MODELS.build(loss_target)
        self.loss_consistency = MODELS.build(loss_consistency)
        self.teacher_momentum = check_momentum(teacher_momentum,
                                               'model.teacher_momentum')
        self.teacher_train_mode = teacher_train_mode
        self.teacher_feature = teacher_feature
        self.teacher_input = teacher_input
        self.pseudo_label_source = pseudo_label_source
        self.warmup_checkpoint = warmup_checkpoint
        self.confidence_threshold = confidence_threshold
        self.cutmix_prob = cutmix_prob
        self.cutmix_box = cutmix_box
        self.target_loss_view = target_loss_view
        self.use_strong_augmentation = use_strong_augmentation
        self.predict_with = predict_with
        self.freeze_norm_statistics = freeze_norm_statistics
        self.build_ingredients(segmentor, mix, classmix_class_pool, mix_augmentation,
                               pseudo_label_weighting, teacher_momentum_rampup,
                               feature_distance, masked_consistency)
        # loss() calls since the last EMA update (not state: a resumed run restarts
        # with the hook that updates it).
        self._steps_since_teacher_update = 0

    # ------------------------------------------------------------ set-up
    def stage_inputs(self) -> List[StageInput]:
        """The warm-up network, when ``warmup_checkpoint`` is set."""
        if not self.warmup_checkpoint:
            return []
        return [StageInput(self.student, self.warmup_checkpoint, 'model.warmup_checkpoint')]

    def init_weights(self) -> None:
        """Initialise the student (its init_cfg, then ``warmup_checkpoint``) and copy
        it into the teacher and the frozen warm-up model."""
        super().init_weights()
        self.load_stage_inputs()
        self.teacher.load_state_dict(self.student.state_dict())
        if self.frozen_model is not None:
            self.frozen_model.load_state_dict(self.student.state_dict())

    def train(self, mode: bool = True) -> 'MeanTeacherSelfTraining':
        super().train(mode)
        if mode and self.freeze_norm_statistics:
            freeze_batch_norm(self.student)
        self.teacher.train(mode and self.teacher_train_mode)
        if self.frozen_model is not None:
            self.frozen_model.eval()
        return self

    def inference_network(self) -> BaseSegmentor:
        return self.teacher if self.predict_with == 'teacher' else self.student

    # ------------------------------------------------------- after a step
    @torch.no_grad()
    def momentum_update(self) -> None:
        """EMA of the teacher f'_SEG (Alg. 1 l. 20), with DAFormer's ramp-up when
        ``teacher_momentum_rampup``; called by ``MeanTeacherHook``."""
        momentum_update_(self.teacher, self.student, self.teacher_update_momentum())
        self._steps_since_teacher_update = 0

    def check_teacher_updated(self) -> None:
        """RuntimeError naming ``custom_hooks`` when the previous ``loss`` call was not
        followed by :meth:`momentum_update`."""
        if self._steps_since_teacher_update > 0:
            raise RuntimeError(
                f'{type(self).__name__}: the EMA teacher was not updated after the '
                "previous iteration: add dict(type='MeanTeacherHook') to custom_hooks "
                '(it calls model.momentum_update() after every step)')

    # ------------------------------------------------------ teacher side
    @torch.no_grad()
    def teacher_forward(self, inputs: Tensor) -> TeacherOutput:
        """The teacher on the weak view (see :class:`TeacherOutput`)."""
        with capture_pre_classifier_feature(
                final_decode_head(self.teacher),
                after_dropout=self.teacher_feature == 'after_dropout') as captured:
            logits = self.teacher._forward(inputs)
        return TeacherOutput(F.normalize(captured[-1].float(), dim=1), logits.float())

    @torch.no_grad()
    def teacher_on_target(self, inputs: Dict[str, Tensor],
                          samples: SampleList) -> TeacherOutput:
        """The teacher's output for the weak view: on the view itself, or on the full
        images read at the crop's pixels (``teacher_input='full_image'``)."""
        if self.teacher_input == 'weak_view':
            return self.teacher_forward(inputs['target'])
        if 'target_full' not in inputs:
            raise KeyError("model.teacher_input='full_image' needs FullImageView right "
                           'after LoadImageFromFile in the target pipeline')
        full = self.teacher_forward(inputs['target_full'])
        coords = torch.stack([s.full_image_coords.data for s in samples]).to(full.logits)
        height, width = inputs['target'].shape[-2:]
        scale = full.logits.shape[-2] / inputs['target_full'].shape[-2]
        size = (round(height * scale), round(width * scale))
        coords = F.pad(coords, (0, width - coords.shape[-1], 0, height - coords.shape[-2]),
                       value=-1.0)  # batch padding
        return TeacherOutput(F.normalize(crop_from_full(full.features, coords, size), dim=1),
                             crop_from_full(full.logits, coords, size))

    @torch.no_grad()
    def soft_pseudo_labels(self, inputs: Tensor, data_samples: SampleList,
                           teacher_logits: Tensor) -> Tensor:
        """P_ST for the batch at input resolution, (B, C, H, W)."""
        if self.pseudo_label_source == 'stored':
            if not all('soft_pseudo_label' in s for s in data_samples):
                raise KeyError(
                    "model.pseudo_label_source='stored' but a target sample has no "
                    'soft_pseudo_label: add LoadSoftPseudoLabel to the target pipeline')
            return torch.stack(
                [s.soft_pseudo_label.data for s in data_samples]).to(inputs)
        if self.pseudo_label_source == 'frozen_model':
            logits = self.frozen_model._forward(inputs)
        else:
            logits = teacher_logits
        return resize(logits, size=inputs.shape[-2:], mode='bilinear',
                      align_corners=self.align_corners).softmax(dim=1)

    @torch.no_grad()
    def pseudo_labels(self, inputs: Tensor, data_samples: SampleList,
                      teacher: TeacherOutput, padding: Tensor) -> PseudoLabels:
        """The pseudo-label step: :class:`PseudoLabels` (P_ST, Y^, confidence).

        Here Y^ is the confident argmax of P_ST (padded pixels and pixels without
        P_ST ignored) and its confidence the max of P_ST: with P_ST the teacher's
        softmax, DAFormer's. Side-effect free (the analysis tools call it too).
        """
        p_st = self.soft_pseudo_labels(inputs, data_samples, teacher.logits)
        no_p_st = p_st.float().sum(dim=1) <= 0
        labels = confident_argmax(p_st.float(), self.confidence_threshold,
                                  self.ignore_index, no_p_st | padding)
        return PseudoLabels(p_st, labels,
                            normalised_confidence(p_st).masked_fill(padding, 0.0))

    def pseudo_label_losses(self, teacher: TeacherOutput,
                            labels: Tensor) -> Dict[str, Tensor]:
        """Losses the pseudo-label step trains (none for plain self-training)."""
        return {}

    # ----------------------------------------------------------- training
    def source_loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """The student's own supervised losses on the source batch (Eq. 3) and, with
        ``feature_distance``, DAFormer's ImageNet feature distance; prefixed ``src.``."""
        if self.feature_distance is None:
            return add_prefix(self.student.loss(inputs, data_samples), 'src')
        return add_prefix(self.source_losses_with_feature_distance(inputs, data_samples),
                          'src')

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> Dict[str, Tensor]:
        """One iteration on a paired batch (see the module docstring).

        Args:
            inputs: ``source`` (B, 3, H, W), ``target`` weak view (B, 3, H, W) and,
                when the pipeline packs it, ``target_strong`` (B, 3, H, W).
            data_samples: ``source`` (with ``gt_sem_seg``) and ``target`` lists.
        """
        self.check_paired_batch(inputs)
        self.check_teacher_updated()
        losses = self.source_loss(inputs['source'], data_samples['source'])
        weak, target_samples = inputs['target'], data_samples['target']
        teacher = self.teacher_on_target(inputs, target_samples)
        padding = self.padding_mask(weak, target_samples)
        pseudo = as_pseudo_labels(
            self.pseudo_labels(weak, target_samples, teacher, padding), padding)
        losses.update(self.pseudo_label_losses(teacher, pseudo.labels))
        weight = self.pseudo_label_weight(pseudo.confidence, padding)
        losses.update(self.target_losses(inputs, data_samples, pseudo.labels, teacher,
                                         padding, weight))
        losses.update(self.masked_consistency_losses(weak, pseudo.labels, weight))
        self._steps_since_teacher_update += 1
        return losses

    def target_losses(self, inputs: Dict[str, Tensor],
                      data_samples: Dict[str, SampleList], labels: Tensor,
                      teacher: TeacherOutput, padding: Tensor,
                      weight: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Student on its target input: L_tgt (Eq. 2, each pixel weighted by the
        (B, H, W) ``weight`` when given, pasted pixels by 1) and L_REG (Eq. 13).

        The input is the strong view mixed with source (``target_loss_view``
        ``'weak'``: the weak view, as the reference code trains, the strong view then
        feeding L_REG alone through a forward of its own).
        """
        view = inputs['target']
        if self.use_strong_augmentation and self.target_loss_view == 'strong':
            view = inputs.get('target_strong', view)
        mixed = self.mix_with_source(view, labels, inputs['source'],
                                     data_samples['source'])
        student = self.student_forward(mixed.image)
        if weight is not None:
            weight = weight.masked_fill(mixed.pasted, 1.0)
        losses = {f'tgt.{self.loss_target.loss_name}':
                  self.weighted_target_loss(student.logits, mixed.labels, weight)}
        losses.update(self.student_feature_losses(student, mixed, padding))
        if self.use_strong_augmentation and self.target_loss_view == 'weak' \
                and 'target_strong' in inputs:
            strong = self.student_forward(inputs['target_strong'])
            unmixed = torch.zeros_like(mixed.pasted)
            losses.update(self.consistency_losses(strong, teacher, unmixed | padding))
        else:
            losses.update(self.consistency_losses(student, teacher, mixed.pasted | padding))
        return losses

    def mix_with_source(self, image: Tensor, labels: Tensor, source: Tensor,
                        source_samples: SampleList) -> MixedBatch:
        """CutMix (Sec. 4.1) or ClassMix (``mix``): source pixels (:meth:`source_mask`)
        pasted into the target ``image`` (B, 3, H, W) and its ``labels`` (B, H, W),
        the mixed image then jittered and blurred with ``mix_augmentation``; no mixing
        without strong augmentation."""
        if not self.use_strong_augmentation:
            return MixedBatch(image, labels, torch.zeros_like(labels, dtype=torch.bool))
        source_labels = source_labels_of(source_samples, labels).to(labels)
        if source_labels.shape != labels.shape:
            raise ValueError(
                'Mixing needs source and target crops of one size, got '
                f'{tuple(source_labels.shape[-2:])} and {tuple(labels.shape[-2:])}: '
                'use the same crop_size in both pipelines')
        pasted = self.source_mask(source_labels)
        mixed = paste(image, source, pasted)
        if self.mix_augmentation is not None:
            mixed = self.mix_augmentation(mixed)
        return MixedBatch(mixed, paste(labels, source_labels, pasted), pasted)

    def student_forward(self, image: Tensor) -> StudentOutput:
        """The student on a target input: logits and Z, both (B, *, h, w)."""
        with capture_pre_classifier_feature(final_decode_head(self.student)) as captured:
            logits = self.student._forward(image)
        return StudentOutput(logits, captured[-1])

    def student_feature_losses(self, student: StudentOutput, mixed: MixedBatch,
                               padding: Tensor) -> Dict[str, Tensor]:
        """Losses on the student's target features besides L_tgt (none here)."""
        return {}

    def consistency_losses(self, student: StudentOutput, teacher: TeacherOutput,
                           excluded: Tensor) -> Dict[str, Tensor]:
        """L_REG (Eq. 13) between the student's and the teacher's outputs, on the
        pixels not ``excluded`` (B, H, W: pasted or padded)."""
        student_logits, teacher_logits = self.consistency_logits(student, teacher)
        keep = F.interpolate((~excluded)[:, None].float(), size=student_logits.shape[-2:],
                             mode='nearest')[:, 0].bool()
        loss = self.loss_consistency(student_logits, teacher_logits, keep)
        return {self.loss_consistency.loss_name: loss}

    def consistency_logits(self, student: StudentOutput,
                           teacher: TeacherOutput) -> Tuple[Tensor, Tensor]:
        """The (B, C, h, w) logits Eq. 13 compares: the segmentation outputs."""
        return student.logits, teacher.logits
