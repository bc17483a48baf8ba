"""The CPSL segmentor: wraps any mmseg EncoderDecoder and adapts it (paper Sec. 3).

One :meth:`CPSL.loss` call is one iteration of Algorithm 1 (supplement):

* source cross-entropy through the student (Eq. 3);
* target weak view through the EMA teacher f'_SEG: pixel features Z, logits;
* P_ST (stored maps, a frozen warm-up model, or the teacher itself);
* P_SL from the momentum self-labeling head f'_SL, rectified label Y^ (Eq. 1);
* class-balanced sampling of Z (Eq. 8-9), Sinkhorn on [samples; memory bank] with
  the class prior as row marginal (Eq. 6, 12), self-labeling loss (Eq. 5);
* CutMix of source into the target strong view, student prediction, rectified
  pseudo-label loss (Eq. 2) and consistency with the teacher (Eq. 13);
* the total of Eq. 14 is the sum of the returned ``loss*`` entries (the weights
  lambda1, lambda2 are the ``loss_weight`` of the self-labeling and consistency
  losses).

State that must survive a resume (teacher, momentum head, memory bank, class
prior) lives in submodules and buffers. The EMA updates and the class-prior update
(Eq. 11) run after the optimiser step, in :class:`OnlineClusteringHook`, through
:meth:`CPSL.momentum_update` and :meth:`CPSL.update_class_prior`.
"""
import copy
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.runner.checkpoint import load_checkpoint
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor, nn

from ...clustering import (ClassPrior, PixelMemoryBank, class_balanced_sample,
                           class_distribution, distribution_aligned_sinkhorn,
                           uniform_sample)
from ..data_preprocessor import uda_preprocessor_cfg
from ..utils.batch_norm import freeze_batch_norm
from ..utils.cutmix import paste, random_box_masks
from ..utils.ema import momentum_update_
from ..utils.feature_capture import (capture_pre_classifier_feature,
                                     feature_dim)
from ..utils.prototypes import PrototypeAccumulator
from ..utils.rectification import rectify_pseudo_labels

PSEUDO_LABEL_SOURCES = ('stored', 'frozen_model', 'teacher')
SAMPLING_MODES = {'class_balanced': class_balanced_sample,
                  'uniform': uniform_sample}


@MODELS.register_module()
class CPSL(BaseSegmentor):
    """Class-balanced Pixel-level Self-Labeling around any mmseg segmentor.

    Args:
        segmentor: config of the adapted network (an ``EncoderDecoder``: backbone,
            neck, decode head). Its decode head must end in ``cls_seg``.
        data_preprocessor: defaults to the segmentor's preprocessor settings; a
            ``SegDataPreProcessor`` config becomes a ``UDADataPreProcessor`` with
            the same arguments.
        self_labeling_head: ``SelfLabelingHead`` config (``feat_dim`` and
            ``num_classes`` are filled in); tau = 0.08 (Eq. 4).
        loss_target / loss_self_labeling / loss_consistency: loss configs for Eq. 2,
            Eq. 5 (loss_weight = lambda1) and Eq. 13 (loss_weight = lambda2).
        memory_bank_size: L, features kept in the FIFO bank (paper 65,536).
        samples_per_image: M, pixels sampled per target image (paper 512).
        sampling: ``'class_balanced'`` (Eq. 8-9) or ``'uniform'`` (reference code,
            and half of the w/o-CB ablation).
        sinkhorn: ``dict(epsilon=0.05, num_iters=3)`` for Eq. 6.
        class_prior: ``ClassPrior`` kwargs: ``mode`` ``'moving_average'`` (Eq. 11),
            ``'fixed'`` (reference code) or ``'uniform'`` (equal partition, w/o CB),
            ``momentum`` alpha of Eq. 11.
        teacher_momentum: mmengine-convention EMA momentum of f'_SEG (paper's 0.999
            decay = 0.001).
        teacher_train_mode: keep the teacher in train mode (dropout, batch-stat BN)
            as the reference code does; default False (eval mode).
        pseudo_label_source: where P_ST comes from: ``'stored'`` (maps from
            ``tools/generate_pseudo_labels.py`` in the target data samples),
            ``'frozen_model'`` (the warm-up checkpoint run online on the weak view)
            or ``'teacher'`` (the EMA teacher's own softmax: plain self-training).
        warmup_checkpoint: EncoderDecoder checkpoint the student, the teacher and
            the frozen model start from (checked to exist).
        confidence_threshold: pixels whose rectified confidence is below it are
            ignored (Eq. 1 option; 0 = off as in the reference code).
        cutmix_prob: probability of pasting a source box into each target image.
        use_self_labeling: False = "w/o SL" (Table 3): no head, bank or L_SL;
            Y^ = argmax P_ST.
        use_self_training: False = "w/o ST": Y^ = argmax P_SL (P_ST unused).
        init_head_from_prototypes: False = "w/o Init": random head (Eq. 7 skipped).
        use_strong_augmentation: False = "w/o Aug": the student sees the weak view,
            no CutMix.
        use_momentum: False = "w/o Mom": teacher and momentum head copy the
            student and the head after every step (momentum 1).
        predict_with: ``'student'`` (default) or ``'teacher'`` for inference.
        freeze_norm_statistics: keep the student's BN running statistics as
            loaded (e.g. target-calibrated by ``tools/calibrate_batch_norm.py``);
            BN layers normalise with them in training too, their affine weights
            still learn. Default False (statistics follow the training batches:
            source, strong view and CutMix pastes alike).
    """

    def __init__(self,
                 segmentor: ConfigType,
                 data_preprocessor: OptConfigType = None,
                 self_labeling_head: ConfigType = dict(
                     type='SelfLabelingHead', temperature=0.08,
                     momentum=0.001),
                 loss_target: ConfigType = dict(
                     type='RectifiedPseudoLabelLoss'),
                 loss_self_labeling: ConfigType = dict(
                     type='SelfLabelingLoss', loss_weight=0.1),
                 loss_consistency: ConfigType = dict(
                     type='ConsistencyLoss', loss_weight=5.0),
                 memory_bank_size: int = 65536,
                 samples_per_image: int = 512,
                 sampling: str = 'class_balanced',
                 sinkhorn: ConfigType = dict(epsilon=0.05, num_iters=3),
                 class_prior: ConfigType = dict(
                     mode='moving_average', momentum=0.99),
                 teacher_momentum: float = 0.001,
                 teacher_train_mode: bool = False,
                 pseudo_label_source: str = 'stored',
                 warmup_checkpoint: Optional[str] = None,
                 confidence_threshold: float = 0.0,
                 cutmix_prob: float = 0.5,
                 use_self_labeling: bool = True,
                 use_self_training: bool = True,
                 init_head_from_prototypes: bool = True,
                 use_strong_augmentation: bool = True,
                 use_momentum: bool = True,
                 predict_with: str = 'student',
                 freeze_norm_statistics: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        segmentor = copy.deepcopy(dict(segmentor))
        data_preprocessor = uda_preprocessor_cfg(data_preprocessor, segmentor)
        segmentor['data_preprocessor'] = None
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._check_choice('pseudo_label_source', pseudo_label_source,
                           PSEUDO_LABEL_SOURCES)
        self._check_choice('sampling', sampling, tuple(SAMPLING_MODES))
        self._check_choice('predict_with', predict_with,
                           ('student', 'teacher'))
        if not (use_self_labeling or use_self_training):
            raise ValueError('model.use_self_labeling and '
                             'model.use_self_training cannot both be False: '
                             'the target would have no pseudo label')
        if pseudo_label_source == 'frozen_model' and not warmup_checkpoint:
            raise ValueError("model.pseudo_label_source='frozen_model' needs "
                             'model.warmup_checkpoint')

        self.student = MODELS.build(segmentor)
        self.teacher = copy.deepcopy(self.student)
        self.teacher.requires_grad_(False)
        self.frozen_model = None
        if pseudo_label_source == 'frozen_model':
            self.frozen_model = copy.deepcopy(self.student)
            self.frozen_model.requires_grad_(False)

        head = self.student.decode_head
        self.num_classes = head.num_classes
        self.ignore_index = head.ignore_index
        self.align_corners = head.align_corners
        self.use_self_labeling = use_self_labeling
        if use_self_labeling:
            head_cfg = dict(self_labeling_head)
            head_cfg.update(
                num_classes=self.num_classes, feat_dim=feature_dim(head))
            if not use_momentum:
                head_cfg['momentum'] = 1.0  # w/o Mom: f'_SL copies f_SL
            self.self_labeling_head = MODELS.build(head_cfg)
            self.memory_bank = PixelMemoryBank(memory_bank_size,
                                               head_cfg['feat_dim'])
            self.loss_self_labeling = MODELS.build(loss_self_labeling)
        self.class_prior = ClassPrior(self.num_classes, **class_prior)
        self.loss_target = MODELS.build(loss_target)
        self.loss_consistency = MODELS.build(loss_consistency)

        self.samples_per_image = samples_per_image
        self.sample_pixels = SAMPLING_MODES[sampling]
        self.sinkhorn_cfg = dict(sinkhorn)
        self.teacher_momentum = teacher_momentum if use_momentum else 1.0
        self.use_momentum = use_momentum
        self.teacher_train_mode = teacher_train_mode
        self.pseudo_label_source = pseudo_label_source
        self.warmup_checkpoint = warmup_checkpoint
        self.confidence_threshold = confidence_threshold
        self.cutmix_prob = cutmix_prob
        self.use_self_training = use_self_training
        self.init_head_from_prototypes = init_head_from_prototypes
        self.use_strong_augmentation = use_strong_augmentation
        self.predict_with = predict_with
        self.freeze_norm_statistics = freeze_norm_statistics
        # Eq. 8 class distribution of the last batch, consumed by Eq. 11 after
        # the optimiser step (not state: recomputed every iteration).
        self.last_class_distribution: Optional[Tensor] = None
        self.register_buffer(
            'statistics_initialized', torch.tensor(False), persistent=True)

    @staticmethod
    def _check_choice(key: str, value: str, choices: Tuple[str, ...]) -> None:
        if value not in choices:
            raise ValueError(
                f'model.{key} must be one of {choices}, got {value!r}')

    # ------------------------------------------------------------ set-up
    def init_weights(self) -> None:
        """Initialise the student (its init_cfg, then ``warmup_checkpoint``) and
        copy it into the teacher and the frozen warm-up model."""
        super().init_weights()
        if self.warmup_checkpoint:
            self.load_warmup_checkpoint(self.warmup_checkpoint)
        self.teacher.load_state_dict(self.student.state_dict())
        if self.frozen_model is not None:
            self.frozen_model.load_state_dict(self.student.state_dict())

    def load_warmup_checkpoint(self, path: str) -> None:
        """Load an EncoderDecoder checkpoint into the student (strict).

        Raises:
            FileNotFoundError: naming ``model.warmup_checkpoint`` when missing.
        """
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'model.warmup_checkpoint not found: {path} (train the warm-up '
                'stage first or fix the path)')
        load_checkpoint(
            self.student, path, map_location='cpu', strict=True,
            revise_keys=[(r'^module\.', '')])

    def train(self, mode: bool = True) -> 'CPSL':
        super().train(mode)
        if mode and self.freeze_norm_statistics:
            freeze_batch_norm(self.student)
        self.teacher.train(mode and self.teacher_train_mode)
        if self.frozen_model is not None:
            self.frozen_model.eval()
        return self

    # ------------------------------------------------------- after a step
    @torch.no_grad()
    def momentum_update(self) -> None:
        """EMA of the teacher f'_SEG and the momentum head f'_SL (Alg. 1 l. 16, 20)."""
        momentum_update_(self.teacher, self.student, self.teacher_momentum)
        if self.use_self_labeling:
            self.self_labeling_head.momentum_update()

    @torch.no_grad()
    def update_class_prior(self) -> None:
        """Eq. 11 with the class distribution of the last batch's rectified labels."""
        if self.last_class_distribution is not None:
            self.class_prior.update(self.last_class_distribution)
            self.last_class_distribution = None

    # ------------------------------------------------------ teacher side
    @torch.no_grad()
    def teacher_forward(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Teacher on the weak view: (Z (B, D, h, w) L2-normalised, logits (B, C, h, w))."""
        head = self.teacher.decode_head
        with capture_pre_classifier_feature(head) as captured:
            logits = head(self.teacher.extract_feat(inputs))
        return F.normalize(captured[-1].float(), dim=1), logits.float()

    @torch.no_grad()
    def soft_pseudo_labels(self, inputs: Tensor, data_samples: SampleList,
                           teacher_logits: Tensor) -> Tensor:
        """P_ST for the batch at input resolution, (B, C, H, W)."""
        size = inputs.shape[-2:]
        if self.pseudo_label_source == 'stored':
            if not all('soft_pseudo_label' in s for s in data_samples):
                raise KeyError(
                    "model.pseudo_label_source='stored' but a target sample "
                    'has no soft_pseudo_label: add LoadSoftPseudoLabel to the '
                    'target pipeline')
            return torch.stack(
                [s.soft_pseudo_label.data for s in data_samples]).to(inputs)
        if self.pseudo_label_source == 'frozen_model':
            logits = self.frozen_model.decode_head(
                self.frozen_model.extract_feat(inputs))
        else:
            logits = teacher_logits
        return resize(
            logits, size=size, mode='bilinear',
            align_corners=self.align_corners).softmax(dim=1)

    def padding_mask(self, inputs: Tensor, data_samples: SampleList) -> Tensor:
        """(B, H, W) bool, True on pixels added by batch padding."""
        mask = torch.ones(
            inputs.shape[0], *inputs.shape[-2:], dtype=torch.bool,
            device=inputs.device)
        for i, sample in enumerate(data_samples):
            height, width = sample.metainfo.get('img_shape',
                                                inputs.shape[-2:])
            mask[i, :height, :width] = False
        return mask

    # ------------------------------------------------------ self-labeling
    @torch.no_grad()
    def self_labeling_probabilities(self, features: Tensor,
                                    size: Tuple[int, int]) -> Tensor:
        """P_SL from the momentum head f'_SL, upsampled to ``size``: (B, C, H, W)."""
        probs = self.self_labeling_head.pixel_probabilities(
            features, use_momentum=True)
        return resize(
            probs, size=size, mode='bilinear',
            align_corners=self.align_corners)

    def rectified_labels(self, p_sl: Optional[Tensor], p_st: Tensor,
                         padding: Tensor) -> Tensor:
        """Y^ of Eq. 1 (B, H, W); a disabled factor (w/o SL / w/o ST) is all ones."""
        valid = p_st.sum(dim=1, keepdim=True) > 0
        ones = valid.float().expand_as(p_st)
        return rectify_pseudo_labels(
            p_sl if (p_sl is not None and self.use_self_labeling) else ones,
            p_st if self.use_self_training else ones,
            confidence_threshold=self.confidence_threshold,
            ignore_index=self.ignore_index,
            ignore_mask=padding)

    def sample_features(self, features: Tensor,
                        labels: Tensor) -> Tensor:
        """Draw M pixel features per image (Eq. 8-9): (n, D) with n <= B * M."""
        dim = features.shape[1]
        small = F.interpolate(
            labels[:, None].float(), size=features.shape[-2:],
            mode='nearest')[:, 0].long()
        indices, valid = self.sample_pixels(
            small, self.samples_per_image, self.num_classes,
            ignore_index=self.ignore_index)
        flat = features.flatten(2).transpose(1, 2)  # (B, h*w, D)
        picked = torch.gather(flat, 1, indices[..., None].expand(-1, -1, dim))
        return picked[valid]

    def self_labeling_loss(self, samples: Tensor) -> Dict[str, Tensor]:
        """Sinkhorn on [samples; bank] (Eq. 6, 12), L_SL on the samples (Eq. 5)."""
        bank = self.memory_bank.valid_features().to(samples)
        with torch.no_grad():
            scores = self.self_labeling_head.cosine_scores(
                torch.cat([samples, bank]))
            assignments = distribution_aligned_sinkhorn(
                scores, self.class_prior().to(scores),
                **self.sinkhorn_cfg)[:samples.shape[0]]
        logits = self.self_labeling_head(samples)
        loss = self.loss_self_labeling(logits, assignments)
        self.memory_bank.enqueue(samples.detach())
        return {self.loss_self_labeling.loss_name: loss}

    # ----------------------------------------------------------- training
    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> Dict[str, Tensor]:
        """One CPSL iteration on a paired batch (see the module docstring).

        Args:
            inputs: ``source`` (B, 3, H, W), ``target`` weak view (B, 3, H, W) and,
                when the pipeline packs it, ``target_strong`` (B, 3, H, W).
            data_samples: ``source`` (with ``gt_sem_seg``) and ``target`` lists.
        """
        if not isinstance(inputs, dict) or 'target' not in inputs:
            raise TypeError(
                'CPSL.loss needs a paired source/target batch: use UDADataset '
                'for train_dataloader.dataset and UDADataPreProcessor')
        losses = {
            f'src.{k}': v
            for k, v in self.student.loss(inputs['source'],
                                          data_samples['source']).items()
        }
        weak = inputs['target']
        tgt_samples = data_samples['target']
        features, teacher_logits = self.teacher_forward(weak)
        p_st = self.soft_pseudo_labels(weak, tgt_samples, teacher_logits)
        padding = self.padding_mask(weak, tgt_samples)
        p_sl = None
        if self.use_self_labeling:
            p_sl = self.self_labeling_probabilities(features,
                                                    weak.shape[-2:])
        labels = self.rectified_labels(p_sl, p_st, padding)
        self.last_class_distribution = class_distribution(
            labels, self.num_classes, self.ignore_index)
        if self.use_self_labeling:
            samples = self.sample_features(features, labels)
            losses.update(self.self_labeling_loss(samples))
        losses.update(
            self.target_losses(inputs, data_samples, labels, teacher_logits,
                               padding))
        return losses

    def target_losses(self, inputs: Dict[str, Tensor],
                      data_samples: Dict[str, SampleList], labels: Tensor,
                      teacher_logits: Tensor,
                      padding: Tensor) -> Dict[str, Tensor]:
        """Student on the (CutMixed) strong view: L_tgt (Eq. 2) and L_REG (Eq. 13)."""
        student_input = inputs['target']
        pasted = torch.zeros_like(labels, dtype=torch.bool)
        if self.use_strong_augmentation:
            student_input = inputs.get('target_strong', student_input)
            pasted = random_box_masks(
                labels.shape[0], *labels.shape[-2:], prob=self.cutmix_prob,
                device=labels.device)
            source_labels = torch.stack([
                s.gt_sem_seg.data[0] for s in data_samples['source']
            ]).to(labels)
            if source_labels.shape != labels.shape:
                raise ValueError(
                    'CutMix needs source and target crops of one size, got '
                    f'{tuple(source_labels.shape[-2:])} and '
                    f'{tuple(labels.shape[-2:])}: use the same crop_size in '
                    'both pipelines (or model.cutmix_prob=0)')
            student_input = paste(student_input, inputs['source'], pasted)
            labels = paste(labels, source_labels, pasted)
        logits = self.student.decode_head(
            self.student.extract_feat(student_input))
        full_logits = resize(
            logits, size=labels.shape[-2:], mode='bilinear',
            align_corners=self.align_corners)
        loss_tgt = self.loss_target(full_logits, labels)
        keep = ~(pasted | padding)
        keep_small = F.interpolate(
            keep[:, None].float(), size=logits.shape[-2:],
            mode='nearest')[:, 0].bool()
        loss_reg = self.loss_consistency(logits, teacher_logits, keep_small)
        return {
            f'tgt.{self.loss_target.loss_name}': loss_tgt,
            self.loss_consistency.loss_name: loss_reg,
        }

    # -------------------------------------- prototype / prior initialisation
    @torch.no_grad()
    def accumulate_initial_statistics(self, inputs: Tensor,
                                      data_samples: SampleList,
                                      accumulator: PrototypeAccumulator
                                      ) -> None:
        """Add one target batch to the Eq. 7 prototypes / Eq. 10 counts.

        Y_ST = argmax P_ST at the feature resolution, features from the teacher.
        """
        features, teacher_logits = self.teacher_forward(inputs)
        p_st = self.soft_pseudo_labels(inputs, data_samples, teacher_logits)
        padding = self.padding_mask(inputs, data_samples)
        hard = p_st.argmax(dim=1)
        hard[(p_st.sum(dim=1) <= 0) | padding] = self.ignore_index
        small = F.interpolate(
            hard[:, None].float(), size=features.shape[-2:],
            mode='nearest')[:, 0].long()
        accumulator.update(features, small, ignore_index=self.ignore_index)

    @torch.no_grad()
    def initialize_statistics(self, prototypes: Tensor,
                              class_counts: Tensor) -> None:
        """Head from Eq. 7 prototypes (unless w/o Init), prior from Eq. 10."""
        if self.use_self_labeling and self.init_head_from_prototypes:
            self.self_labeling_head.init_from_prototypes(prototypes)
        self.class_prior.initialize(class_counts)
        self.statistics_initialized.fill_(True)

    # ---------------------------------------------------------- inference
    def _predictor(self) -> BaseSegmentor:
        return self.teacher if self.predict_with == 'teacher' else self.student

    def predict(self, inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        return self._predictor().predict(inputs, data_samples)

    def _forward(self, inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        return self._predictor()._forward(inputs, data_samples)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        return self._predictor().extract_feat(inputs)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        return self._predictor().encode_decode(inputs, batch_img_metas)
