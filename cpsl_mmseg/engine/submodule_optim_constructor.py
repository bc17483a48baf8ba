"""One optimiser per named child module (GAN-style training with an OptimWrapperDict)."""
import copy
from typing import Dict

from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SubmoduleOptimWrapperConstructor:
    """Build an ``OptimWrapperDict`` with one ``OptimWrapper`` per child module.

    Config::

        optim_wrapper = dict(
            constructor='SubmoduleOptimWrapperConstructor',
            student=dict(type='OptimWrapper', optimizer=dict(type='SGD', ...),
                         paramwise_cfg=dict(...)),
            discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', ...)))

    Every key names a child module of the model (``model.student``, the segmentor of
    ``AdversarialWarmup``, and ``model.discriminator``); each entry is built by mmengine's
    ``DefaultOptimWrapperConstructor`` on that child, with its own optional
    ``paramwise_cfg``. ``param_scheduler`` may then be a dict with the same keys.

    Args:
        optim_wrapper_cfg: ``{child name: OptimWrapper config}``.
        paramwise_cfg: must be None (put ``paramwise_cfg`` inside each entry).
    """

    def __init__(self, optim_wrapper_cfg: Dict[str, dict],
                 paramwise_cfg: dict = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError('SubmoduleOptimWrapperConstructor: put paramwise_cfg '
                             'inside each optim_wrapper.<child> entry')
        if not optim_wrapper_cfg or not all(
                isinstance(v, dict) for v in optim_wrapper_cfg.values()):
            raise TypeError('SubmoduleOptimWrapperConstructor: optim_wrapper must map '
                            'child module names to OptimWrapper configs, got '
                            f'{optim_wrapper_cfg}')
        self.optim_wrapper_cfg = copy.deepcopy(dict(optim_wrapper_cfg))

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(model):
            model = model.module
        wrappers = {}
        for name, cfg in self.optim_wrapper_cfg.items():
            child = getattr(model, name, None)
            if not isinstance(child, nn.Module):
                raise KeyError(f'optim_wrapper.{name}: {type(model).__name__} has no '
                               f'child module {name!r}')
            cfg = dict(cfg)
            paramwise = cfg.pop('paramwise_cfg', None)
            wrappers[name] = DefaultOptimWrapperConstructor(cfg, paramwise)(child)
        return OptimWrapperDict(**wrappers)
