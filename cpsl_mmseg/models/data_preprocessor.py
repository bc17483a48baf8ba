"""Data preprocessing for paired source/target batches."""
from typing import Any, Dict, List, Optional

import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS


@MODELS.register_module()
class UDADataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` that also understands :class:`UDADataset` batches.

    A plain batch (validation, testing, source-only training) is handled exactly as
    by the parent. A paired batch ``dict(source=..., target=...)`` becomes::

        dict(inputs=dict(source=(B, 3, H, W), target=(B, 3, H, W),
                         target_strong=(B, 3, H, W)),       # when packed
             data_samples=dict(source=[...], target=[...]))

    (and ``target_full``, the whole target images, when ``FullImageView`` packed them).
    Source and both target views are normalised and padded like any mmseg batch;
    the target's strong view gets exactly the padding of its weak view, and the
    ``soft_pseudo_label`` maps are zero-padded to the same size (zero probability
    = ignore in the rectification).
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        if 'source' not in data:
            plain = super().forward(data, training)
            if plain['data_samples'] is not None:
                self._pad_soft_labels(plain['data_samples'], plain['inputs'])
            return plain
        source = super().forward(data['source'], training)
        target_data = data['target']
        target = super().forward(
            dict(inputs=target_data['inputs'],
                 data_samples=target_data['data_samples']), training)
        inputs = dict(source=source['inputs'], target=target['inputs'])
        if 'inputs_strong' in target_data:
            strong = self._normalize(target_data['inputs_strong'])
            inputs['target_strong'] = self._pad_like(strong, target['inputs'])
        if 'inputs_full' in target_data:
            if len({tuple(img.shape) for img in target_data['inputs_full']}) > 1:
                raise ValueError('FullImageView: the full target images of a batch must '
                                 'share one size (resize them in the dataset first)')
            inputs['target_full'] = self._normalize(target_data['inputs_full'])
        self._pad_soft_labels(target['data_samples'], target['inputs'])
        return dict(
            inputs=inputs,
            data_samples=dict(
                source=source['data_samples'],
                target=target['data_samples']))

    def _normalize(self, images: List[torch.Tensor]) -> torch.Tensor:
        """Colour conversion and normalisation of the parent, then a plain stack."""
        images = self.cast_data(images)
        if self.channel_conversion and images[0].size(0) == 3:
            images = [img[[2, 1, 0], ...] for img in images]
        images = [img.float() for img in images]
        if self._enable_normalize:
            images = [(img - self.mean) / self.std for img in images]
        return torch.stack(images, dim=0)

    @staticmethod
    def _pad_like(tensor: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        pad_h = like.shape[-2] - tensor.shape[-2]
        pad_w = like.shape[-1] - tensor.shape[-1]
        if pad_h == 0 and pad_w == 0:
            return tensor
        return torch.nn.functional.pad(tensor, (0, pad_w, 0, pad_h), value=0)

    def _pad_soft_labels(self, data_samples: List, inputs: torch.Tensor):
        for sample in data_samples:
            if 'soft_pseudo_label' in sample:
                sample.soft_pseudo_label.data = self._pad_like(
                    sample.soft_pseudo_label.data, inputs)


def uda_preprocessor_cfg(data_preprocessor: Optional[dict],
                         segmentor: dict) -> dict:
    """The preprocessor config of a wrapper segmentor (CPSL, distillation, ...).

    ``None`` takes the wrapped segmentor's own preprocessor settings. A
    ``SegDataPreProcessor`` config (what mmengine's Runner injects from an mmseg
    config's top-level ``data_preprocessor``) becomes a ``UDADataPreProcessor`` with
    the same arguments, so paired and plain batches both work.
    """
    if data_preprocessor is None:
        data_preprocessor = segmentor.get('data_preprocessor') or {}
    data_preprocessor = dict(data_preprocessor)
    if data_preprocessor.get('type', 'SegDataPreProcessor') in (
            'SegDataPreProcessor', 'UDADataPreProcessor'):
        data_preprocessor['type'] = 'UDADataPreProcessor'
    return data_preprocessor
