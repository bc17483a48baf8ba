"""What the steps of a mean-teacher iteration hand each other (see
:mod:`.mean_teacher`'s call graph)."""
from typing import NamedTuple

from torch import Tensor


class TeacherOutput(NamedTuple):
    """The teacher on the weak view: Z (B, D, h, w), L2-normalised per pixel, and the
    segmentation logits (B, C, h, w), both at the decode head's resolution."""

    features: Tensor
    logits: Tensor


class StudentOutput(NamedTuple):
    """The student on a target input: logits (B, C, h, w) and its pre-classifier
    feature Z (B, D, h, w), not normalised, at the decode head's resolution."""

    logits: Tensor
    features: Tensor


class MixedBatch(NamedTuple):
    """The student's target input after mixing: image (B, 3, H, W), labels (B, H, W)
    and the (B, H, W) bool mask of the pixels that came from the source."""

    image: Tensor
    labels: Tensor
    pasted: Tensor


class PseudoLabels(NamedTuple):
    """The pseudo-label step's output: P_ST (B, C, H, W), the hard label Y^ (B, H, W)
    and Y^'s confidence (B, H, W) in [0, 1], 0 on padding (what DAFormer's quality
    weight thresholds)."""

    p_st: Tensor
    labels: Tensor
    confidence: Tensor
