"""Output-space adversarial warm-up (AdaptSegNet style), the stage before CPSL.

The paper warms the segmentation network up "by applying adversarial training like
[39]" (AdaptSegNet): source cross-entropy plus a least-squares GAN loss that makes
the softmax outputs on target images look like those on source images to a fully
convolutional discriminator D (adversarial weight 0.01; D trained with Adam 1e-4).

Two optimisers (``student``: the segmentor being warmed up, ``discriminator``) need a
``train_step`` of the model's own;
mmengine's ``MMDistributedDataParallel`` would bypass it, so distributed runs use
``model_wrapper_cfg=dict(type='MMSeparateDistributedDataParallel')``, which wraps
each child module in DDP separately and calls this ``train_step``. Every DDP forward
here is followed by exactly one backward, and D's forward for the segmentor's loss
runs on the unwrapped D with its parameters frozen, so no gradient of that loss
reaches D (as in AdaptSegNet).
"""
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.optim import OptimWrapperDict
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, add_prefix
from torch import Tensor, nn

from .uda_base import UDASegmentor, bare, final_decode_head

SOURCE_LABEL = 1.0  # what D should answer on source outputs
TARGET_LABEL = 0.0  # ... and on target outputs


@MODELS.register_module()
class OutputSpaceDiscriminator(BaseModule):
    """Fully convolutional discriminator on (B, C, H, W) softmax maps.

    ``num_convs`` 4x4 stride-2 convs with LeakyReLU(0.2), channels
    ``base_channels * 2**i``, then a 4x4 stride-2 conv to one channel: a
    (B, 1, ~H/2^(num_convs+1), ~W/2^(num_convs+1)) map of domain scores (AdaptSegNet:
    4 convs of 64..512 channels).
    """

    def __init__(self, in_channels: int, base_channels: int = 64, num_convs: int = 4,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        layers: List[nn.Module] = []
        channels = in_channels
        for i in range(num_convs):
            out = base_channels * 2**i
            layers += [nn.Conv2d(channels, out, 4, stride=2, padding=1),
                       nn.LeakyReLU(0.2, inplace=True)]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, stride=2, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, probs: Tensor) -> Tensor:
        return self.layers(probs)


def least_squares_gan_loss(scores: Tensor, label: float) -> Tensor:
    """LSGAN loss ``mean((D(x) - label)^2)`` over every score of the map."""
    return F.mse_loss(scores, torch.full_like(scores, label))


@MODELS.register_module()
class AdversarialWarmup(UDASegmentor):
    """Source supervision plus output-space adversarial alignment to the target.

    Trains on paired ``UDADataset`` batches (the target pipeline needs neither soft
    pseudo labels nor a strong view). ``optim_wrapper`` must be an
    ``OptimWrapperDict`` with the keys ``student`` (the segmentor) and
    ``discriminator`` (``constructor='SubmoduleOptimWrapperConstructor'``). Inference
    is the segmentor's; its weights are the ``student.*`` tensors of a checkpoint, as
    in every stage (see ``tools/extract_submodel.py``).

    Args:
        segmentor: mmseg segmentor config; its final decode head's ``loss_by_feat``
            gives the source loss (auxiliary heads are not used in this stage).
        discriminator: discriminator config (``in_channels`` = number of classes is
            filled in).
        adversarial_weight: lambda_adv of the segmentor's adversarial loss (0.01).
    """

    def __init__(self,
                 segmentor: ConfigType,
                 discriminator: ConfigType = dict(type='OutputSpaceDiscriminator'),
                 adversarial_weight: float = 0.01,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(segmentor, data_preprocessor, init_cfg)
        discriminator = dict(discriminator)
        discriminator['in_channels'] = self.num_classes
        self.discriminator = MODELS.build(discriminator)
        self.adversarial_weight = adversarial_weight

    def _output_probs(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Segmentor logits (B, C, h, w) through the (possibly DDP) wrapper, and the
        softmax upsampled to the input size (B, C, H, W), as AdaptSegNet feeds D."""
        logits = self.student(inputs, mode='tensor')
        probs = resize(logits, size=inputs.shape[-2:], mode='bilinear',
                       align_corners=self.align_corners).softmax(dim=1)
        return logits, probs

    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One AdaptSegNet iteration: segmentor step, then discriminator step."""
        if not isinstance(optim_wrapper, OptimWrapperDict) or set(
                optim_wrapper.keys()) != {'student', 'discriminator'}:
            raise TypeError('AdversarialWarmup needs optim_wrapper with exactly the '
                            "keys 'student' and 'discriminator' (constructor="
                            "'SubmoduleOptimWrapperConstructor')")
        data = self.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']
        self.check_paired_batch(inputs)
        seg_optim = optim_wrapper['student']
        d_optim = optim_wrapper['discriminator']
        discriminator = bare(self.discriminator)

        # 1. segmentor: source CE, then fooling D on the target (D frozen).
        with seg_optim.optim_context(self):
            src_logits, src_probs = self._output_probs(inputs['source'])
            src_losses = final_decode_head(bare(self.student)).loss_by_feat(
                src_logits, samples['source'])
        loss_src, log_vars = self.parse_losses(add_prefix(src_losses, 'src'))
        seg_optim.backward(loss_src)
        discriminator.requires_grad_(False)
        with seg_optim.optim_context(self):
            _, tgt_probs = self._output_probs(inputs['target'])
            loss_adv = self.adversarial_weight * least_squares_gan_loss(
                discriminator(tgt_probs), SOURCE_LABEL)
        seg_optim.backward(loss_adv)
        seg_optim.step()
        seg_optim.zero_grad()
        discriminator.requires_grad_(True)

        # 2. discriminator: source outputs -> SOURCE_LABEL, target -> TARGET_LABEL.
        batch = src_probs.shape[0]
        with d_optim.optim_context(self):
            scores = self.discriminator(
                torch.cat([src_probs.detach(), tgt_probs.detach()]))
            loss_d = 0.5 * (
                least_squares_gan_loss(scores[:batch], SOURCE_LABEL) +
                least_squares_gan_loss(scores[batch:], TARGET_LABEL))
        d_optim.update_params(loss_d)

        log_vars.update(loss_adv=loss_adv.detach(), loss_d=loss_d.detach())
        return log_vars

    def loss(self, inputs, data_samples) -> dict:
        raise NotImplementedError(
            'AdversarialWarmup trains through its own train_step (two optimisers); '
            'with DDP set model_wrapper_cfg=dict(type='
            "'MMSeparateDistributedDataParallel')")
