"""The stage kinds of the plug-in, registered in :data:`~..kinds.STAGE_KINDS` on
import: ``train`` (:mod:`.train`), ``bn_calibration``, ``pseudo_labels``,
``prototypes`` (:mod:`.target_passes`) and ``export`` (:mod:`.export`).

Recorded outputs, by kind: ``train``: ``config``, ``checkpoint`` (the run's last) and
``segmentor`` (the trained segmentor alone: extracted from the checkpoint with
``extract``, else the checkpoint); ``bn_calibration``: ``config``, ``segmentor``;
``pseudo_labels``: ``config``, ``directory``; ``prototypes``: ``config``, ``file``;
``export``: ``config``, ``checkpoint``, ``network``; evaluated stages also their
metrics (``mIoU``, ``per_class_iou``, ...).
"""
from . import export, target_passes, train  # noqa: F401  (registers the kinds)
