"""losses."""
from .bank_contrastive_loss import BankContrastiveLoss  # noqa: F401
from .consistency_loss import ConsistencyLoss  # noqa: F401
from .rectified_pseudo_label_loss import RectifiedPseudoLabelLoss  # noqa: F401
from .self_labeling_loss import SelfLabelingLoss  # noqa: F401
