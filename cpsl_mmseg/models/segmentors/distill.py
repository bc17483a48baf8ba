"""Knowledge-distillation stages KD-1 / KD-2 after CPSL (paper Sec. 4.2, following ProDA).

A frozen teacher (the previous stage's model) labels each target image; a student
initialised from self-supervised (SimCLR) ResNet-101 weights learns from it with

* a per-pixel KL divergence ``KL(p_T || p_S) = sum_c p_T,c (log p_T,c - log p_S,c)``,
  computed from log-probabilities on both sides (the reference code passed
  probabilities to ``kl_div``, which expects log-probabilities, and logged negative
  losses);
* cross-entropy on the teacher's hard labels ``argmax_c p_T,c`` where the teacher's
  confidence ``max_c p_T,c`` reaches ``confidence_threshold`` (0.95), ignore elsewhere;
* optionally source cross-entropy (paired ``UDADataset`` batches).

Stage hand-off is explicit and checked (:mod:`..utils.stage_checkpoint`): training
refuses to start, naming the config key and the file, when the teacher or the student
initialisation file is missing, or when its tensor names or shapes do not match the
receiving network exactly.
"""
import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, add_prefix
from torch import Tensor

from .uda_base import StageInput, UDASegmentor, final_decode_head


def pixel_kl_divergence(student_logits: Tensor, teacher_logits: Tensor,
                        valid: Optional[Tensor] = None) -> Tensor:
    """Mean over valid pixels of ``KL(softmax(teacher) || softmax(student))``.

    Args:
        student_logits: (B, C, H, W) logits (gradients flow into them).
        teacher_logits: (B, C, H, W) logits of the teacher, same size.
        valid: optional (B, H, W) bool mask of the pixels to average over.

    Returns:
        0-dim tensor, >= 0; 0 (with a graph) when no pixel is valid.
    """
    log_p_student = F.log_softmax(student_logits.float(), dim=1)
    log_p_teacher = F.log_softmax(teacher_logits.float(), dim=1)
    per_pixel = F.kl_div(
        log_p_student, log_p_teacher, reduction='none', log_target=True).sum(dim=1)
    if valid is None:
        return per_pixel.mean()
    return (per_pixel * valid).sum() / valid.sum().clamp(min=1)


def confident_hard_labels(teacher_probs: Tensor, threshold: float,
                          ignore_index: int = 255,
                          valid: Optional[Tensor] = None) -> Tensor:
    """``argmax_c p_T`` where ``max_c p_T >= threshold`` (and ``valid``), else ignore.

    Args:
        teacher_probs: (B, C, H, W) probabilities.
        threshold: confidence needed to keep a pixel (0.95 in ProDA / CPSL).
        valid: optional (B, H, W) bool mask; other pixels are ignored.

    Returns:
        (B, H, W) long labels with ``ignore_index`` where not confident.
    """
    confidence, labels = teacher_probs.max(dim=1)
    keep = confidence >= threshold
    if valid is not None:
        keep &= valid
    return torch.where(keep, labels, torch.full_like(labels, ignore_index))


@MODELS.register_module()
class CPSLDistill(UDASegmentor):
    """Distil a frozen teacher into a freshly initialised student (KD-1, KD-2).

    Args:
        student: EncoderDecoder config of the student. Its backbone must not name a
            pretrained checkpoint of its own when ``student_checkpoint`` is set.
        teacher: EncoderDecoder config of the teacher (default: the student's).
        student_checkpoint: backbone weights the student starts from (the paper: a
            self-supervised SimCLR ResNet-101); tensor names as in the backbone
            (torchvision naming for mmseg ``ResNet``), after ``student_checkpoint_prefix``.
        student_checkpoint_prefix: prefix selecting the backbone tensors in that file
            (e.g. ``'backbone.'`` or ``'encoder.'``; ``''`` = the file is the backbone).
        student_checkpoint_ignore: regular expressions of file tensors to drop on
            purpose (default: an ImageNet/SimCLR classifier ``fc.*``).
        teacher_checkpoint: the previous stage's checkpoint: a CPSL or CPSLDistill
            checkpoint (keys ``student.*`` / ``teacher.*``) or a plain segmentor file.
        teacher_checkpoint_prefix: which model of that file teaches: ``'student.'``
            (default), ``'teacher.'`` (CPSL's EMA model) or ``''`` (a plain file).
        confidence_threshold: teacher confidence for the hard-label CE (0.95).
        kd_weight: weight of the KL term.
        pseudo_label_weight: weight of the hard-label cross-entropy.
        source_weight: weight of the student's source losses (0 = off); > 0 needs
            paired ``UDADataset`` batches.
    """

    def __init__(self,
                 student: ConfigType,
                 teacher: OptConfigType = None,
                 student_checkpoint: Optional[str] = None,
                 student_checkpoint_prefix: str = '',
                 student_checkpoint_ignore: Sequence[str] = (r'^fc\.', ),
                 teacher_checkpoint: Optional[str] = None,
                 teacher_checkpoint_prefix: str = 'student.',
                 confidence_threshold: float = 0.95,
                 kd_weight: float = 1.0,
                 pseudo_label_weight: float = 1.0,
                 source_weight: float = 0.0,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        student = copy.deepcopy(dict(student))
        teacher = copy.deepcopy(dict(teacher if teacher is not None else student))
        teacher['data_preprocessor'] = None
        if not 0.0 <= confidence_threshold <= 1.0:
            raise ValueError('model.confidence_threshold must lie in [0, 1], got '
                             f'{confidence_threshold}')
        if student_checkpoint:
            self._check_single_student_init(student, student_checkpoint)
        super().__init__(student, data_preprocessor, init_cfg)
        self.teacher = MODELS.build(teacher)
        self.teacher.requires_grad_(False)
        if final_decode_head(self.teacher).num_classes != self.num_classes:
            raise ValueError('model.teacher and model.student predict different '
                             'numbers of classes')
        self.student_checkpoint = student_checkpoint
        self.student_checkpoint_prefix = student_checkpoint_prefix
        self.student_checkpoint_ignore = tuple(student_checkpoint_ignore)
        self.teacher_checkpoint = teacher_checkpoint
        self.teacher_checkpoint_prefix = teacher_checkpoint_prefix
        self.confidence_threshold = confidence_threshold
        self.kd_weight = kd_weight
        self.pseudo_label_weight = pseudo_label_weight
        self.source_weight = source_weight

    @staticmethod
    def _check_single_student_init(student: dict, path: str) -> None:
        """Refuse two competing initialisations of the student backbone (the
        reference code's ImageNet-instead-of-SimCLR mix-up)."""
        backbone = student.get('backbone', {})
        other = student.get('pretrained') or backbone.get('pretrained')
        init_cfg = backbone.get('init_cfg') or {}
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            other = other or init_cfg.get('checkpoint')
        if other:
            raise ValueError(
                f'model.student_checkpoint={path!r} and the student config also '
                f'names pretrained weights {other!r} (model.student.pretrained / '
                'model.student.backbone.init_cfg): keep exactly one')

    # ------------------------------------------------------------ set-up
    def stage_inputs(self) -> List[StageInput]:
        """The previous stage's checkpoint (teacher) and, when set, the student
        backbone's initialisation.

        Raises:
            ValueError: naming ``model.teacher_checkpoint`` when it is not set.
        """
        if not self.teacher_checkpoint:
            raise ValueError(
                'model.teacher_checkpoint is not set: a distillation stage needs '
                "the previous stage's checkpoint (CPSL for KD-1, KD-1 for KD-2)")
        inputs = [StageInput(self.teacher, self.teacher_checkpoint,
                             'model.teacher_checkpoint', self.teacher_checkpoint_prefix)]
        if self.student_checkpoint:
            inputs.insert(0, StageInput(
                self.student.backbone, self.student_checkpoint, 'model.student_checkpoint',
                self.student_checkpoint_prefix, self.student_checkpoint_ignore))
        return inputs

    def init_weights(self) -> None:
        """Student backbone from ``student_checkpoint``, teacher from
        ``teacher_checkpoint``; both strictly checked (see the module docstring)."""
        super().init_weights()
        if not self.student_checkpoint:
            print_log('model.student_checkpoint is not set: the student keeps the '
                      'initialisation of its own config', logger='current')
        self.load_stage_inputs()

    def train(self, mode: bool = True) -> 'CPSLDistill':
        super().train(mode)
        self.teacher.eval()  # frozen: no dropout, running BN statistics
        return self

    # ----------------------------------------------------------- training
    @torch.no_grad()
    def teacher_logits(self, inputs: Tensor) -> Tensor:
        """Teacher logits upsampled to the input resolution, (B, C, H, W)."""
        logits = self.teacher._forward(inputs)
        return self._upsample(logits, inputs).float()

    def _upsample(self, logits: Tensor, inputs: Tensor) -> Tensor:
        return resize(logits, size=inputs.shape[-2:], mode='bilinear',
                      align_corners=self.align_corners)

    def loss(self, inputs, data_samples) -> Dict[str, Tensor]:
        """Distillation losses on the target batch (plus source CE when enabled).

        Args:
            inputs: (B, 3, H, W) target images, or a paired batch
                ``dict(source=..., target=...)`` from ``UDADataPreProcessor``.
            data_samples: the matching sample list (or dict of lists).
        """
        paired = isinstance(inputs, dict)
        target = inputs['target'] if paired else inputs
        samples = data_samples['target'] if paired else data_samples
        losses: Dict[str, Tensor] = {}
        if self.source_weight > 0:
            if not paired:
                raise ValueError('model.source_weight > 0 needs paired source/target '
                                 'batches: use UDADataset for train_dataloader.dataset')
            source = self.student.loss(inputs['source'], data_samples['source'])
            for key, value in add_prefix(source, 'src').items():
                losses[key] = value * self.source_weight if 'loss' in key else value
        valid = ~self.padding_mask(target, samples)
        teacher_logits = self.teacher_logits(target)
        student_logits = self._upsample(self.student._forward(target), target)
        losses['loss_kd'] = self.kd_weight * pixel_kl_divergence(
            student_logits, teacher_logits, valid)
        labels = confident_hard_labels(teacher_logits.softmax(dim=1),
                                       self.confidence_threshold,
                                       self.ignore_index, valid)
        kept = labels != self.ignore_index
        ce = F.cross_entropy(student_logits.float(), labels,
                             ignore_index=self.ignore_index, reduction='sum')
        losses['loss_pseudo'] = self.pseudo_label_weight * ce / kept.sum().clamp(min=1)
        losses['confident_ratio'] = (kept.sum() / valid.sum().clamp(min=1)).detach()
        return losses
