"""PixelMemoryBank: FIFO order, wrap-around, partial fill, labels, checkpoint round trip.

The two-process (gloo) check lives in test_core_distributed.py.
"""
import pytest
import torch

from cpsl_mmseg.clustering.memory_bank import PixelMemoryBank


def rows(start, count, dim=3):
    """Rows whose every entry is the row's global number: easy to trace."""
    return torch.arange(start, start + count, dtype=torch.float32).unsqueeze(1).repeat(1, dim)


def test_partial_fill_keeps_arrival_order():
    bank = PixelMemoryBank(length=8, feat_dim=3)
    assert bank.num_filled == 0 and not bank.is_full
    assert bank.valid_features().shape == (0, 3)
    bank.enqueue(rows(0, 3))
    bank.enqueue(rows(3, 2))
    assert bank.num_filled == 5 and not bank.is_full
    assert torch.equal(bank.valid_features(), rows(0, 5))
    assert int(bank.write_pointer) == 5


def test_wrap_around_overwrites_the_oldest_rows():
    bank = PixelMemoryBank(length=4, feat_dim=3)
    bank.enqueue(rows(0, 3))
    bank.enqueue(rows(3, 3))  # rows 3, 4, 5 -> slots 3, 0, 1
    assert bank.is_full and bank.num_filled == 4
    assert bank.valid_features()[:, 0].tolist() == [4.0, 5.0, 2.0, 3.0]
    assert int(bank.write_pointer) == 2
    bank.enqueue(rows(6, 1))  # the oldest (2) goes
    assert bank.valid_features()[:, 0].tolist() == [4.0, 5.0, 6.0, 3.0]


def test_more_rows_than_length_keeps_the_newest():
    bank = PixelMemoryBank(length=4, feat_dim=3)
    bank.enqueue(rows(0, 1))
    bank.enqueue(rows(1, 6))  # only rows 3..6 survive, written from slot 1 on
    assert sorted(bank.valid_features()[:, 0].tolist()) == [3.0, 4.0, 5.0, 6.0]
    assert bank.valid_features()[:, 0].tolist() == [6.0, 3.0, 4.0, 5.0]
    assert int(bank.write_pointer) == 1


def test_labels_stay_aligned_with_features():
    bank = PixelMemoryBank(length=5, feat_dim=3, store_labels=True)
    bank.enqueue(rows(0, 3), torch.tensor([0, 1, 2]))
    bank.enqueue(rows(3, 4), torch.tensor([3, 4, 5, 6]))
    assert torch.equal(bank.valid_labels().float(), bank.valid_features()[:, 0])
    assert bank.valid_labels().dtype == torch.long


def test_inputs_are_detached_and_cast_to_the_bank_dtype():
    bank = PixelMemoryBank(length=4, feat_dim=2)
    source = torch.ones(2, 2, requires_grad=True)
    bank.enqueue(source * 2)
    bank.enqueue(torch.ones(2, 2, dtype=torch.float16))
    assert bank.features.dtype == torch.float32
    assert not bank.features.requires_grad
    assert bank.valid_features().tolist() == [[2.0, 2.0], [2.0, 2.0], [1.0, 1.0], [1.0, 1.0]]


def test_state_dict_round_trip_resumes_identically():
    bank = PixelMemoryBank(length=6, feat_dim=3, store_labels=True)
    bank.enqueue(rows(0, 4), torch.arange(4))
    bank.enqueue(rows(4, 4), torch.arange(4, 8))
    state = bank.state_dict()
    assert set(state) == {'features', 'labels', 'write_pointer', 'fill_count'}

    restored = PixelMemoryBank(length=6, feat_dim=3, store_labels=True)
    restored.load_state_dict(state)
    for b in (bank, restored):
        b.enqueue(rows(8, 3), torch.arange(8, 11))
    assert torch.equal(restored.features, bank.features)
    assert torch.equal(restored.labels, bank.labels)
    assert restored.num_filled == bank.num_filled == 6
    assert int(restored.write_pointer) == int(bank.write_pointer) == 5


def test_empty_enqueue_is_a_no_op():
    bank = PixelMemoryBank(length=4, feat_dim=3)
    bank.enqueue(rows(0, 0))
    assert bank.num_filled == 0 and int(bank.write_pointer) == 0


def test_invalid_use_raises():
    with pytest.raises(TypeError, match='feat_dim'):
        PixelMemoryBank(length=4)
    bank = PixelMemoryBank(4, 3)
    with pytest.raises(ValueError, match=r'\(n, 3\)'):
        bank.enqueue(torch.zeros(2, 5))
    with pytest.raises(ValueError, match='store_labels=False'):
        bank.enqueue(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(RuntimeError, match='store_labels=False'):
        bank.valid_labels()
    labelled = PixelMemoryBank(4, 3, store_labels=True)
    with pytest.raises(ValueError, match='labels must be'):
        labelled.enqueue(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r'\(2,\)'):
        labelled.enqueue(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
