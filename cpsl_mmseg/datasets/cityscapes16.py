"""Cityscapes seen through the 16 classes of the SYNTHIA->Cityscapes protocol."""
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

from .sample_checks import CheckedSamplesMixin

from .synthia import SYNTHIA_CLASSES


@DATASETS.register_module()
class Cityscapes16Dataset(CheckedSamplesMixin, CityscapesDataset):
    """Cityscapes with the 16 SYNTHIA classes (19 train ids -> 16, the rest 255).

    A SYNTHIA-trained model predicts 16 classes (train ids of
    :data:`~cpsl_mmseg.datasets.synthia.SYNTHIA_CLASSES`); evaluating it on the
    19-class Cityscapes labels needs those labels in the same 16-id space. This class
    uses mmseg's class-subset mechanism: a ``metainfo`` whose ``classes`` are a subset
    of ``CityscapesDataset.METAINFO['classes']`` gives the dataset a ``label_map``
    (old train id -> position in the subset, every other id -> 255) that
    ``LoadAnnotations`` applies to each ``*_gtFine_labelTrainIds.png``. Terrain (9),
    truck (14) and train (16) become ignore; e.g. Cityscapes' sky (10) becomes 9 and
    bicycle (18) becomes 15.

    It is also the target dataset of a SYNTHIA ``UDADataset`` (whose source and
    target classes must agree); unlabelled target images load no annotations, so
    the mapping does not matter there.

    Args:
        **kwargs: :class:`mmseg.datasets.CityscapesDataset` arguments. A ``metainfo``
            given here is an error: the class list is what this dataset fixes.
    """

    def __init__(self, **kwargs) -> None:
        if kwargs.get('metainfo') is not None:
            raise ValueError(
                'Cityscapes16Dataset fixes its classes to the 16 SYNTHIA classes; '
                'remove `metainfo` from its config (use CityscapesDataset with '
                'metainfo=dict(classes=...) for another subset)')
        super().__init__(metainfo=dict(classes=SYNTHIA_CLASSES), **kwargs)
