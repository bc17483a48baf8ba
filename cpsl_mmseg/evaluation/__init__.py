"""evaluation."""
from .subset_iou_metric import SubsetIoUMetric  # noqa: F401
