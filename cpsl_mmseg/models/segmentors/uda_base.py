"""The base of every UDA segmentor in this package: one adapted mmseg segmentor, the
student, and what every stage of the recipe shares around it.

``UDASegmentor`` wraps any mmseg segmentor (``EncoderDecoder`` or
``CascadeEncoderDecoder``; any backbone, neck, decode and auxiliary heads):

* ``student``: the network this stage trains, built from the ``segmentor`` config;
* the data preprocessor: the segmentor's own settings, as a ``UDADataPreProcessor``
  that also unpacks paired source/target batches (``check_paired_batch``);
* inference: ``predict`` / ``_forward`` / ``extract_feat`` / ``encode_decode``
  delegate to :meth:`inference_network` (the student unless a subclass says
  otherwise), so mmseg's test loop, visualiser and TTA see an ordinary segmentor;
* the hand-off between stages: :meth:`load_stage_checkpoint` loads a file strictly
  (every tensor name and shape compared, the config key and the file named on any
  difference, the file's digest logged);
* the facts of the final decode head for any segmentor type (the last head of a
  cascade such as OCRNet): ``num_classes``, ``ignore_index``, ``align_corners``.

Subclasses: :class:`~.mean_teacher.MeanTeacherSelfTraining` (and
:class:`~.cpsl.CPSL` on it), :class:`~.adversarial_warmup.AdversarialWarmup`,
:class:`~.distill.CPSLDistill`.
"""
import copy
from abc import ABCMeta
from typing import List, NamedTuple, Sequence

import torch
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor, nn

from ..data_preprocessor import uda_preprocessor_cfg
from ..utils.stage_checkpoint import LoadReport, check_fits, file_digest, load_checked


def bare(module: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or the module itself)."""
    return module.module if is_model_wrapper(module) else module


class StageInput(NamedTuple):
    """A file an earlier stage wrote and this model starts from: which part of the
    model receives it, the config key that names it, and the part of the file."""

    module: nn.Module
    path: str
    config_key: str
    prefix: str = ''
    ignore: Sequence[str] = ()


def final_decode_head(segmentor: nn.Module) -> nn.Module:
    """The decode head whose classifier makes the segmentation: ``decode_head``, or the
    last head of a ``CascadeEncoderDecoder``'s list (OCRNet and other cascades)."""
    head = segmentor.decode_head
    return head[-1] if isinstance(head, nn.ModuleList) else head


class SegmentorSettingsMeta(ABCMeta):
    """Lets a UDA wrapper take the two keys ``mmseg.apis.init_model`` sets on any model
    config, ``pretrained`` and ``train_cfg``, whatever its subclass's ``__init__``
    accepts: ``None`` (what ``init_model`` sets) is dropped, any other value is a
    setting of the adapted segmentor and goes into its config (``segmentor``)."""

    def __call__(cls, *args, pretrained=None, train_cfg=None, **kwargs):
        settings = {k: v for k, v in (('pretrained', pretrained), ('train_cfg', train_cfg))
                    if v is not None}
        if settings:
            if 'segmentor' in kwargs:
                kwargs['segmentor'] = dict(kwargs['segmentor'], **settings)
            else:
                args = (dict(args[0], **settings), *args[1:])
        return super().__call__(*args, **kwargs)


class UDASegmentor(BaseSegmentor, metaclass=SegmentorSettingsMeta):
    """One adapted segmentor (``self.student``) with the shared plumbing of the module
    docstring. Subclasses implement ``loss`` (or ``train_step``). Built by
    ``mmseg.apis.init_model`` too (:class:`SegmentorSettingsMeta`), it predicts with
    :meth:`inference_network`.

    Args:
        segmentor: config of the adapted mmseg segmentor.
        data_preprocessor: defaults to the segmentor's preprocessor settings; a
            ``SegDataPreProcessor`` config becomes a ``UDADataPreProcessor`` with the
            same arguments.
        init_cfg: mmengine initialisation config of the wrapper.
    """

    def __init__(self,
                 segmentor: ConfigType,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        segmentor = copy.deepcopy(dict(segmentor))
        data_preprocessor = uda_preprocessor_cfg(data_preprocessor, segmentor)
        segmentor['data_preprocessor'] = None
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student = MODELS.build(segmentor)
        head = final_decode_head(self.student)
        self.num_classes = head.num_classes
        self.ignore_index = head.ignore_index
        self.align_corners = head.align_corners

    # ------------------------------------------------------------- hand-off
    def stage_inputs(self) -> List[StageInput]:
        """The files this model starts from (none here; subclasses list theirs)."""
        return []

    def check_stage_inputs(self) -> None:
        """Every stage input exists and fits its module by tensor name and shape,
        without loading anything (a pipeline checks this before it starts a stage).

        Raises:
            FileNotFoundError / ValueError: naming the config key and the file.
        """
        for item in self.stage_inputs():
            check_fits(item.module, item.path, item.config_key, item.prefix, item.ignore)

    def load_stage_inputs(self) -> None:
        """Load every stage input (in ``init_weights``)."""
        for item in self.stage_inputs():
            self.load_stage_checkpoint(*item)

    @staticmethod
    def load_stage_checkpoint(module: nn.Module, path: str, config_key: str,
                              prefix: str = '',
                              ignore: Sequence[str] = ()) -> LoadReport:
        """Load the ``prefix`` part of ``path`` into ``module``, all or nothing, and log
        what was loaded with the file's SHA-256 prefix.

        Raises:
            FileNotFoundError / ValueError: naming ``config_key`` and ``path`` (see
                :func:`~..utils.stage_checkpoint.load_checked`).
        """
        report = load_checked(module, path, config_key, prefix, ignore)
        print_log(f'{config_key}: {report.summary()} (sha256 {file_digest(path)}...)',
                  logger='current')
        return report

    # -------------------------------------------------------------- batches
    def check_paired_batch(self, inputs) -> None:
        """TypeError unless ``inputs`` is a paired batch from ``UDADataPreProcessor``."""
        if not isinstance(inputs, dict) or 'target' not in inputs:
            raise TypeError(
                f'{type(self).__name__} trains on paired source/target batches: use '
                'UDADataset for train_dataloader.dataset (and UDADataPreProcessor)')

    @staticmethod
    def padding_mask(inputs: Tensor, data_samples: SampleList) -> Tensor:
        """(B, H, W) bool, True on pixels added by batch padding."""
        mask = torch.ones(
            inputs.shape[0], *inputs.shape[-2:], dtype=torch.bool, device=inputs.device)
        for i, sample in enumerate(data_samples):
            height, width = sample.metainfo.get('img_shape', inputs.shape[-2:])
            mask[i, :height, :width] = False
        return mask

    # ------------------------------------------------------------ inference
    def inference_network(self) -> BaseSegmentor:
        """The segmentor used for validation and testing (the student)."""
        return bare(self.student)

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        return self.inference_network().predict(inputs, data_samples)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        return self.inference_network()._forward(inputs, data_samples)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        return self.inference_network().extract_feat(inputs)

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        return self.inference_network().encode_decode(inputs, batch_img_metas)
