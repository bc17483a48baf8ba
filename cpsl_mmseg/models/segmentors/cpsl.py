"""The CPSL segmentor (paper Sec. 3): mean-teacher self-training whose pseudo labels
are rectified by class-balanced pixel-level self-labeling.

CPSL is :class:`~.mean_teacher.MeanTeacherSelfTraining` with its pseudo-label step
replaced; one :meth:`CPSL.loss` call is one iteration of Algorithm 1 (supplement)::

    loss(inputs, data_samples)
     |- (refuses to run before the Eq. 7 / Eq. 10 statistics are initialised)
     |- source_loss()          L_src (Eq. 3)                        [mean teacher]
     |- teacher_forward()      f'_SEG on the weak view: Z, logits   [mean teacher]
     |- pseudo_labels()        P_ST, P_SL of the momentum head f'_SL (Eq. 4),
     |                         rectified label Y^ = argmax P_SL * P_ST (Eq. 1) and
     |                         its confidence (normalised max of P_SL * P_ST)
     |- pseudo_label_losses()  class shares of Y^ for Eq. 11; self_labeling_losses():
     |                         class-balanced sampling of Z (Eq. 8-9), Sinkhorn on
     |                         [samples; memory bank] with the class prior as row
     |                         marginal (Eq. 6, 12), L_SL (Eq. 5), the bank updated
     '- target_losses()        L_tgt (Eq. 2), L_REG (Eq. 13)         [mean teacher]

The total of Eq. 14 is the sum of the returned ``loss*`` entries (lambda1, lambda2 are
the ``loss_weight`` of the self-labeling and consistency losses). The mean teacher's
DAFormer / MIC ingredients apply unchanged, on Y^ (``self_training_ingredients.py``).

State that must survive a resume (teacher, momentum head, memory bank, class prior,
``statistics_initialized``) lives in submodules and buffers. After each optimiser
step ``MeanTeacherHook`` calls :meth:`momentum_update` (teacher and f'_SL) and
``OnlineClusteringHook`` calls :meth:`update_class_prior` (Eq. 11) and logs
:attr:`last_balance` (bank make-up against the prior, Sinkhorn against the rows'
rectified labels); before the first step it initialises the head and the prior
(Eq. 7, Eq. 10). Switches reproduce the authors' code where it departs from the paper
(``docs/fidelity.md``); the defaults follow the paper.
"""
from typing import Dict, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from ...clustering import (ClassPrior, PixelMemoryBank, PrototypeAccumulator,
                           class_balanced_sample, class_distribution,
                           gather_pixels, rectified_confidence, rectify_pseudo_labels,
                           uniform_sample)
from ...clustering.diagnostics import class_balance_report, label_shares
from ...clustering.sinkhorn import grouped_sinkhorn
from ..utils.feature_capture import feature_dim
from .mean_teacher import MeanTeacherSelfTraining, check_choice
from .step_outputs import MixedBatch, PseudoLabels, StudentOutput, TeacherOutput
from .uda_base import final_decode_head

SAMPLING_MODES = {'class_balanced': class_balanced_sample, 'uniform': uniform_sample}


class PixelSamples(NamedTuple):
    """Pixels drawn from the teacher's output for self-labeling: (n, D) features Z
    (L2-normalised), (n,) rectified labels, (n, C) teacher logits (L2-normalised:
    the reference code's score rows) and the (n,) index of each row's image."""

    features: Tensor
    labels: Tensor
    scores: Tensor
    image: Tensor


@MODELS.register_module()
class CPSL(MeanTeacherSelfTraining):
    """Class-balanced Pixel-level Self-Labeling around any mmseg segmentor.

    Takes every argument of :class:`MeanTeacherSelfTraining` (``segmentor``, the
    losses of Eq. 2 / Eq. 13, ``teacher_momentum``, ``warmup_checkpoint``, the DAFormer /
    MIC ingredients...), with ``pseudo_label_source='stored'`` by default, plus:

    Args:
        self_labeling_head: ``SelfLabelingHead`` config (``feat_dim`` and
            ``num_classes`` are filled in); tau = 0.08 (Eq. 4), ``momentum`` of f'_SL.
        loss_self_labeling: loss of Eq. 5 (``loss_weight`` = lambda1).
        memory_bank_images: images the FIFO bank holds (paper: 128); it keeps
            ``memory_bank_images * samples_per_image`` rows (paper: 65,536), counted
            over all processes.
        samples_per_image: M, pixels sampled per target image (paper 512).
        sampling: ``'class_balanced'`` (Eq. 8-9) or ``'uniform'`` (reference code,
            and half of the w/o-CB ablation).
        sinkhorn: ``dict(epsilon=0.05, num_iters=3)`` for Eq. 6.
        class_prior: ``ClassPrior`` kwargs: ``mode`` ``'moving_average'`` (Eq. 11),
            ``'fixed'`` (reference code), ``'uniform'`` (equal partition, w/o CB) or
            ``'given'`` (with ``distribution``: a diagnostic); ``decay``: alpha of
            Eq. 11, the weight of the previous estimate.
        use_self_labeling: False = "w/o SL" (Table 3): no head, bank or L_SL;
            Y^ = argmax P_ST.
        use_self_training: False = "w/o ST": Y^ = argmax P_SL (P_ST unused).
        init_head_from_prototypes: False = "w/o Init": random head (Eq. 7 skipped).
        use_momentum: False = "w/o Mom": teacher and momentum head copy the student
            and the head after every step (momentum 1).
        sinkhorn_per_image: reference code: one Sinkhorn problem per image.
        use_bank_before_full: False = reference code: the bank joins Sinkhorn only
            once it is full.
        self_labeling_from_scores: reference code: a second L_SL whose targets come
            from Sinkhorn on the teacher's L2-normalised logits at the same pixels
            (with a bank of its own), logged as ``loss_sl_scores``.
        consistency_space: ``'segmentation'`` (Eq. 13 on the segmentation outputs)
            or ``'prototypes'`` (reference code: on the momentum head's logits of the
            student's and the teacher's Z).
        loss_bank_contrast: optional ``BankContrastiveLoss`` config (reference code:
            student target features against the bank by rectified label).

    The Table 3 "w/o Aug" row is the mean teacher's ``use_strong_augmentation=False``.
    """

    def __init__(self,
                 segmentor: ConfigType,
                 self_labeling_head: ConfigType = dict(
                     type='SelfLabelingHead', temperature=0.08, momentum=0.001),
                 loss_self_labeling: ConfigType = dict(
                     type='SelfLabelingLoss', loss_weight=0.1),
                 memory_bank_images: int = 128,
                 samples_per_image: int = 512,
                 sampling: str = 'class_balanced',
                 sinkhorn: ConfigType = dict(epsilon=0.05, num_iters=3),
                 class_prior: ConfigType = dict(mode='moving_average', decay=0.99),
                 pseudo_label_source: str = 'stored',
                 teacher_momentum: float = 0.001,
                 use_self_labeling: bool = True,
                 use_self_training: bool = True,
                 init_head_from_prototypes: bool = True,
                 use_momentum: bool = True,
                 sinkhorn_per_image: bool = False,
                 use_bank_before_full: bool = True,
                 self_labeling_from_scores: bool = False,
                 consistency_space: str = 'segmentation',
                 loss_bank_contrast: OptConfigType = None,
                 **kwargs) -> None:
        check_choice('sampling', sampling, tuple(SAMPLING_MODES))
        check_choice('consistency_space', consistency_space, ('segmentation', 'prototypes'))
        if 'memory_bank_size' in kwargs:
            raise ValueError('model.memory_bank_size was replaced by '
                             'model.memory_bank_images: the bank holds that many images '
                             'of samples_per_image rows (paper: 128 x 512 = 65,536)')
        if not (use_self_labeling or use_self_training):
            raise ValueError('model.use_self_labeling and model.use_self_training '
                             'cannot both be False: the target would have no pseudo label')
        if 'momentum' in class_prior:
            raise ValueError('model.class_prior.momentum was renamed '
                             'model.class_prior.decay (Eq. 11 alpha, the weight of the '
                             'previous estimate)')
        if min(memory_bank_images, samples_per_image) < 1:
            raise ValueError('model.memory_bank_images and model.samples_per_image must '
                             f'be >= 1, got {memory_bank_images}, {samples_per_image}')
        if not use_self_labeling and (consistency_space == 'prototypes'
                                      or self_labeling_from_scores or loss_bank_contrast):
            raise ValueError("model.consistency_space='prototypes', "
                             'model.self_labeling_from_scores and model.loss_bank_contrast '
                             'need the self-labeling head (model.use_self_labeling=True)')
        super().__init__(segmentor, pseudo_label_source=pseudo_label_source,
                         teacher_momentum=teacher_momentum if use_momentum else 1.0, **kwargs)
        self.use_self_labeling = use_self_labeling
        bank_rows = memory_bank_images * samples_per_image
        self.score_bank: Optional[PixelMemoryBank] = None
        self.loss_bank_contrast = None
        if use_self_labeling:
            head_cfg = dict(self_labeling_head)
            head_cfg.update(num_classes=self.num_classes,
                            feat_dim=feature_dim(final_decode_head(self.student)))
            if not use_momentum:
                head_cfg['momentum'] = 1.0  # w/o Mom: f'_SL copies f_SL
            self.self_labeling_head = MODELS.build(head_cfg)
            # each row keeps its rectified label too: the bank's class make-up is logged
            self.memory_bank = PixelMemoryBank(bank_rows, head_cfg['feat_dim'],
                                               store_labels=True)
            self.loss_self_labeling = MODELS.build(loss_self_labeling)
            if self_labeling_from_scores:
                self.score_bank = PixelMemoryBank(bank_rows, self.num_classes)
            if loss_bank_contrast is not None:
                self.loss_bank_contrast = MODELS.build(loss_bank_contrast)
        self.class_prior = ClassPrior(self.num_classes, **class_prior)
        self.memory_bank_images = memory_bank_images
        self.samples_per_image = samples_per_image
        self.sample_pixels = SAMPLING_MODES[sampling]
        self.sinkhorn_cfg = dict(sinkhorn)
        self.use_momentum = use_momentum
        self.use_self_training = use_self_training
        self.init_head_from_prototypes = init_head_from_prototypes
        self.sinkhorn_per_image = sinkhorn_per_image
        self.use_bank_before_full = use_bank_before_full
        self.consistency_space = consistency_space
        # Not state (recomputed every step): the last batch's Eq. 8 class shares (for
        # Eq. 11 after the step) and class-balance diagnostics (OnlineClusteringHook).
        self.last_class_distribution: Optional[Tensor] = None
        self.last_balance: Optional[Dict[str, Tensor]] = None
        self.register_buffer('statistics_initialized', torch.tensor(False),
                             persistent=True)

    # ------------------------------------------------------- after a step
    @torch.no_grad()
    def momentum_update(self) -> None:
        """EMA of the teacher f'_SEG and the momentum head f'_SL (Alg. 1 l. 16, 20)."""
        super().momentum_update()
        if self.use_self_labeling:
            self.self_labeling_head.momentum_update()

    @torch.no_grad()
    def update_class_prior(self) -> None:
        """Eq. 11 with the class distribution of the last batch's rectified labels."""
        if self.last_class_distribution is not None:
            self.class_prior.update(self.last_class_distribution)
            self.last_class_distribution = None

    # ------------------------------------------------------ pseudo labels
    @torch.no_grad()
    def self_labeling_probabilities(self, features: Tensor,
                                    size: Tuple[int, int]) -> Tensor:
        """P_SL from the momentum head f'_SL, upsampled to ``size``: (B, C, H, W)."""
        probs = self.self_labeling_head.pixel_probabilities(features, use_momentum=True)
        return resize(probs, size=size, mode='bilinear', align_corners=self.align_corners)

    def rectification_factors(self, p_sl: Optional[Tensor],
                              p_st: Tensor) -> Tuple[Tensor, Tensor]:
        """P_SL and P_ST (B, C, H, W) as Eq. 1 multiplies them; a disabled factor
        (w/o SL / w/o ST) is all ones where P_ST exists."""
        ones = (p_st.sum(dim=1, keepdim=True) > 0).float().expand_as(p_st)
        return (p_sl if (p_sl is not None and self.use_self_labeling) else ones,
                p_st if self.use_self_training else ones)

    def rectified_labels(self, p_sl: Optional[Tensor], p_st: Tensor,
                         padding: Tensor) -> Tensor:
        """Y^ of Eq. 1 (B, H, W)."""
        return rectify_pseudo_labels(*self.rectification_factors(p_sl, p_st),
                                     confidence_threshold=self.confidence_threshold,
                                     ignore_index=self.ignore_index, ignore_mask=padding)

    @torch.no_grad()
    def pseudo_labels(self, inputs: Tensor, data_samples: SampleList,
                      teacher: TeacherOutput, padding: Tensor) -> PseudoLabels:
        """P_ST, Y^ of Eq. 1 (P_SL of the momentum head) and Y^'s confidence, the max of
        P_SL * P_ST normalised over the classes: the probability of the label Eq. 1 picks
        with both factors as independent evidence (max P_ST ignores the rectification)."""
        p_st = self.soft_pseudo_labels(inputs, data_samples, teacher.logits)
        p_sl = None
        if self.use_self_labeling:
            p_sl = self.self_labeling_probabilities(teacher.features, inputs.shape[-2:])
        confidence = rectified_confidence(*self.rectification_factors(p_sl, p_st), padding)
        return PseudoLabels(p_st, self.rectified_labels(p_sl, p_st, padding), confidence)

    # ------------------------------------------------------ self-labeling
    def pseudo_label_losses(self, teacher: TeacherOutput,
                            labels: Tensor) -> Dict[str, Tensor]:
        """Class shares of Y^ for Eq. 11, then L_SL on class-balanced samples."""
        self.last_class_distribution = class_distribution(
            labels, self.num_classes, self.ignore_index)
        if not self.use_self_labeling:
            return {}
        return self.self_labeling_losses(self.sample_features(teacher, labels))

    def sample_features(self, teacher: TeacherOutput, labels: Tensor) -> PixelSamples:
        """Draw M pixels per image of the teacher's output (Eq. 8-9): n <= B * M rows."""
        features = teacher.features
        small = F.interpolate(
            labels[:, None].float(), size=features.shape[-2:], mode='nearest')[:, 0].long()
        indices, valid = self.sample_pixels(
            small, self.samples_per_image, self.num_classes,
            ignore_index=self.ignore_index)
        image = torch.arange(labels.shape[0], device=labels.device)[:, None].expand_as(valid)
        return PixelSamples(gather_pixels(features, indices)[valid],
                            gather_pixels(small[:, None], indices)[valid][:, 0],
                            F.normalize(gather_pixels(teacher.logits, indices)[valid], dim=1),
                            image[valid])

    def self_labeling_losses(self, samples: PixelSamples) -> Dict[str, Tensor]:
        """L_SL (Eq. 5) with Sinkhorn targets on [samples; bank] (Eq. 6, 12); the
        samples and their rectified labels then enter the bank."""
        bank = self.bank_rows(self.memory_bank).to(samples.features)
        with torch.no_grad():
            scores = self.self_labeling_head.cosine_scores(
                torch.cat([samples.features, bank]))
            targets, last_problem = self.sinkhorn_targets(
                scores[:len(samples.labels)], scores[len(samples.labels):], samples.image)
            self.last_balance = self.balance_diagnostics(samples, bank.shape[0],
                                                         last_problem)
        logits = self.self_labeling_head(samples.features)
        losses = {self.loss_self_labeling.loss_name: self.loss_self_labeling(logits, targets)}
        if self.score_bank is not None:
            score_bank = self.bank_rows(self.score_bank).to(samples.scores)
            with torch.no_grad():
                score_targets, _ = self.sinkhorn_targets(samples.scores, score_bank,
                                                         samples.image)
            losses['loss_sl_scores'] = self.loss_self_labeling(logits, score_targets)
            self.score_bank.enqueue(samples.scores)
        self.memory_bank.enqueue(samples.features.detach(), samples.labels)
        return losses

    def bank_rows(self, bank: PixelMemoryBank) -> Tensor:
        """The bank rows that join Sinkhorn: all filled rows, or none before the bank
        is full when ``use_bank_before_full`` is False (reference code)."""
        rows = bank.valid_features()
        return rows if (self.use_bank_before_full or bank.is_full) else rows[:0]

    @torch.no_grad()
    def sinkhorn_targets(self, current: Tensor, bank: Tensor,
                         image: Tensor) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        """Eq. 6, 12 on [current; bank] scores with the class prior: one problem per
        batch, or per image with ``sinkhorn_per_image`` (:func:`grouped_sinkhorn`)."""
        groups = [image == index for index in image.unique()] \
            if self.sinkhorn_per_image else [torch.ones_like(image, dtype=torch.bool)]
        return grouped_sinkhorn(current, bank, self.class_prior().to(current), groups,
                                **self.sinkhorn_cfg)

    @torch.no_grad()
    def balance_diagnostics(self, samples: PixelSamples, bank_size: int,
                            problem: Tuple[Tensor, Tensor]) -> Dict[str, Tensor]:
        """:func:`class_balance_report` of the bank rows and the last Sinkhorn problem."""
        rows, assignments = problem
        bank_labels = self.memory_bank.valid_labels()[:bank_size]
        return class_balance_report(
            bank_labels, self.class_prior(), assignments,
            torch.cat([samples.labels[rows], bank_labels.to(samples.labels)]),
            self.num_classes)

    @torch.no_grad()
    def bank_class_shares(self) -> Tensor:
        """(C,) share of the bank's rows per rectified label (zeros while it is empty):
        which classes the Sinkhorn step of Eq. 6 actually sees."""
        return label_shares(self.memory_bank.valid_labels(), self.num_classes)

    # ---------------------------------------- reference-code target terms
    def student_feature_losses(self, student: StudentOutput, mixed: MixedBatch,
                               padding: Tensor) -> Dict[str, Tensor]:
        """With ``loss_bank_contrast``: the student's Z at random target pixels (not
        pasted, not padded) against the bank rows by rectified label."""
        if self.loss_bank_contrast is None:
            return {}
        labels = torch.where(mixed.pasted | padding,
                             torch.full_like(mixed.labels, self.ignore_index), mixed.labels)
        small = F.interpolate(labels[:, None].float(), size=student.features.shape[-2:],
                              mode='nearest')[:, 0].long()
        indices, valid = uniform_sample(small, self.loss_bank_contrast.samples_per_image,
                                        self.num_classes, ignore_index=self.ignore_index)
        bank = self.bank_rows(self.memory_bank)
        loss = self.loss_bank_contrast(
            gather_pixels(student.features, indices)[valid],
            gather_pixels(small[:, None], indices)[valid][:, 0], bank,
            self.memory_bank.valid_labels()[:bank.shape[0]])
        return {self.loss_bank_contrast.loss_name: loss}

    def consistency_logits(self, student: StudentOutput,
                           teacher: TeacherOutput) -> Tuple[Tensor, Tensor]:
        """Eq. 13's logits: the segmentation outputs, or with
        ``consistency_space='prototypes'`` the momentum head's cosine / tau of the
        student's and the teacher's Z (the reference code)."""
        if self.consistency_space == 'segmentation':
            return super().consistency_logits(student, teacher)
        head = self.self_labeling_head
        return (head.pixel_logits(student.features, use_momentum=True),
                head.pixel_logits(teacher.features, use_momentum=True))

    # ----------------------------------------------------------- training
    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> Dict[str, Tensor]:
        """One CPSL iteration (see the module docstring).

        Raises:
            RuntimeError: naming ``custom_hooks`` when self-labeling is on and the
                Eq. 7 / Eq. 10 statistics were never initialised (no
                ``OnlineClusteringHook``): the head would start from random
                prototypes and Sinkhorn from a uniform prior.
        """
        if self.use_self_labeling and not bool(self.statistics_initialized):
            raise RuntimeError(
                'CPSL: the self-labeling head and the class prior were never '
                "initialised (Eq. 7, Eq. 10): add dict(type='OnlineClusteringHook') "
                'to custom_hooks (it initialises them before the first iteration and '
                'applies Eq. 11 after every step)')
        return super().loss(inputs, data_samples)

    # -------------------------------------- prototype / prior initialisation
    @torch.no_grad()
    def accumulate_initial_statistics(self, inputs: Tensor, data_samples: SampleList,
                                      accumulator: PrototypeAccumulator) -> None:
        """Add one target batch to the Eq. 7 prototypes / Eq. 10 counts.

        Y_ST = argmax P_ST at the feature resolution, features from the teacher.
        """
        teacher = self.teacher_forward(inputs)
        p_st = self.soft_pseudo_labels(inputs, data_samples, teacher.logits)
        padding = self.padding_mask(inputs, data_samples)
        hard = p_st.argmax(dim=1)
        hard[(p_st.sum(dim=1) <= 0) | padding] = self.ignore_index
        small = F.interpolate(
            hard[:, None].float(), size=teacher.features.shape[-2:],
            mode='nearest')[:, 0].long()
        accumulator.update(teacher.features, small, ignore_index=self.ignore_index)

    @torch.no_grad()
    def initialize_statistics(self, prototypes: Tensor, class_counts: Tensor) -> None:
        """Head from Eq. 7 prototypes (unless w/o Init), prior from Eq. 10."""
        if self.use_self_labeling and self.init_head_from_prototypes:
            self.self_labeling_head.init_from_prototypes(prototypes)
        self.class_prior.initialize(class_counts)
        self.statistics_initialized.fill_(True)
