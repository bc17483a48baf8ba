"""Refusing a run whose model, data or resumed checkpoint do not fit, before the first
iteration (a misconfiguration found after ten hours is a lost day)."""
from typing import Dict, List

import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...compat import find_latest_checkpoint
from ...models.segmentors.uda_base import final_decode_head
from ...models.utils.stage_checkpoint import OPTIONAL_SUFFIX
from .mean_teacher_hook import unwrap


def model_classes(model: torch.nn.Module) -> int:
    """Number of classes the model predicts (UDA wrappers and plain segmentors)."""
    if hasattr(model, 'num_classes'):
        return int(model.num_classes)
    return int(final_decode_head(model).num_classes)


def classes_key(model: torch.nn.Module) -> str:
    """The config key that sets the number of classes of ``model``."""
    inner = 'segmentor.' if hasattr(model, 'student') else ''
    head = getattr(getattr(model, 'student', model), 'decode_head', None)
    suffix = '.-1' if isinstance(head, torch.nn.ModuleList) else ''
    return f'model.{inner}decode_head{suffix}.num_classes'


def tensor_mismatches(model_state: Dict[str, torch.Tensor],
                      checkpoint_state: Dict[str, torch.Tensor]) -> List[str]:
    """One line per tensor that is missing, unexpected or of another shape (BatchNorm
    ``num_batches_tracked`` counters may be absent, as in torchvision files)."""
    lines = []
    for key, value in model_state.items():
        if key not in checkpoint_state:
            if not key.endswith(OPTIONAL_SUFFIX):
                lines.append(f'missing in the checkpoint: {key}')
        elif tuple(checkpoint_state[key].shape) != tuple(value.shape):
            lines.append(f'{key}: checkpoint {tuple(checkpoint_state[key].shape)}, '
                         f'model {tuple(value.shape)}')
    lines += [f'not in the model: {key}' for key in checkpoint_state
              if key not in model_state and not key.endswith(OPTIONAL_SUFFIX)]
    return lines


@HOOKS.register_module()
class PreflightCheckHook(Hook):
    """Checks that fail before the first iteration, naming the config key or file:

    * ``before_train``: the training dataset's classes and the number of classes the
      model predicts (``model.[segmentor.]decode_head.num_classes``) agree;
    * ``after_load_checkpoint`` (``--resume`` and ``load_from``): every tensor of the
      checkpoint fits the model by name and shape. mmengine loads with
      ``strict=False`` and logs a mismatch as one line; the UDA state (memory bank,
      prior, teacher, momentum head) would then silently start from zeros. Stages
      hand weights on through ``model.warmup_checkpoint``, not ``load_from``.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        classes = runner.train_dataloader.dataset.metainfo.get('classes')
        if classes is not None and len(classes) != model_classes(model):
            raise ValueError(
                f'{classes_key(model)}={model_classes(model)} but the training dataset '
                f'has {len(classes)} classes {tuple(classes)}: set num_classes to '
                f'{len(classes)} (or the dataset metainfo to the classes the model '
                'predicts)')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict', checkpoint)
        state = {k[len('module.'):] if k.startswith('module.') else k: v
                 for k, v in state.items() if isinstance(v, torch.Tensor)}
        problems = tensor_mismatches(unwrap(runner.model).state_dict(), state)
        if problems:
            path = runner.cfg.get('load_from') or find_latest_checkpoint(runner.work_dir)
            shown = '\n  '.join(problems[:20])
            more = f'\n  ... and {len(problems) - 20} more' if len(problems) > 20 else ''
            raise ValueError(
                f'the checkpoint to resume or load ({path}) does '
                f'not fit the model of {runner.cfg.filename}: {len(problems)} '
                f'tensors differ\n  {shown}{more}\nresume with the config that '
                'wrote it, or start a new work dir')
