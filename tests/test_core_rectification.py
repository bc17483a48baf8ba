"""Pseudo-label rectification (Eq. 1) on hand-made probability maps."""
import pytest
import torch

from cpsl_mmseg.clustering.rectification import rectify_pseudo_labels


def maps():
    """Two classes, 1 x 4 pixels, (B, C, H, W) = (1, 2, 1, 4)."""
    p_st = torch.tensor([[0.6, 0.6, 0.9, 0.0], [0.4, 0.4, 0.1, 0.0]]).view(1, 2, 1, 4)
    p_sl = torch.tensor([[0.5, 0.2, 0.5, 0.5], [0.5, 0.8, 0.5, 0.5]]).view(1, 2, 1, 4)
    return p_sl, p_st


def test_argmax_of_the_product():
    # products: [0.30, 0.20], [0.12, 0.32], [0.45, 0.05], [0, 0] (padding, P_ST sums to 0)
    p_sl, p_st = maps()
    labels = rectify_pseudo_labels(p_sl, p_st)
    assert labels.dtype == torch.long
    assert labels.tolist() == [[[0, 1, 0, 255]]]
    assert p_st.argmax(1).tolist() == [[[0, 0, 0, 0]]]  # pixel 1 was changed by P_SL


def test_confidence_threshold_on_the_normalised_product():
    # normalised maxima: 0.30/0.50 = 0.6, 0.32/0.44 = 0.727, 0.45/0.50 = 0.9
    p_sl, p_st = maps()
    assert rectify_pseudo_labels(p_sl, p_st, 0.7).tolist() == [[[255, 1, 0, 255]]]
    assert rectify_pseudo_labels(p_sl, p_st, 0.8, ignore_index=-1).tolist() == [[[-1, -1, 0, -1]]]


def test_ignore_mask():
    p_sl, p_st = maps()
    mask = torch.tensor([[[False, False, True, False]]])
    assert rectify_pseudo_labels(p_sl, p_st, ignore_mask=mask).tolist() == [[[0, 1, 255, 255]]]


def test_shape_mismatch_names_both_shapes():
    p_sl, p_st = maps()
    with pytest.raises(ValueError, match=r'\(1, 2, 1, 4\).*\(1, 2, 2, 2\)'):
        rectify_pseudo_labels(p_sl, p_st.view(1, 2, 2, 2))
    with pytest.raises(ValueError, match=r'\(1, 1, 4\).*\(1, 4\)'):
        rectify_pseudo_labels(p_sl, p_st, ignore_mask=torch.zeros(1, 4, dtype=torch.bool))
