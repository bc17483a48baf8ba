"""The hook that moves a mean teacher: one EMA update after every training iteration."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


def unwrap(model):
    """The model inside a DDP wrapper (or the model itself)."""
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class MeanTeacherHook(Hook):
    """After every training iteration, ``model.momentum_update()``: the EMA of the
    teacher (and, for CPSL, of the momentum self-labeling head), Alg. 1 l. 16, 20.

    The momenta belong to the model config (``model.teacher_momentum``,
    ``model.self_labeling_head.momentum``), so that an ablation switch such as CPSL's
    ``use_momentum=False`` changes them in one place. The update rule lives in
    ``cpsl_mmseg/models/utils/ema.py``. The teacher starts as a copy of the student
    when the model is initialised (and comes back from a checkpoint on resume), so
    this hook never copies.
    """

    priority = 'NORMAL'

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        if not callable(getattr(model, 'momentum_update', None)):
            raise TypeError(
                f'MeanTeacherHook (custom_hooks) needs a model with a teacher and '
                f'momentum_update(), e.g. MeanTeacherSelfTraining or CPSL; got '
                f'{type(model).__name__}')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        unwrap(runner.model).momentum_update()
