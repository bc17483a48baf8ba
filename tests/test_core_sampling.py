"""Class-balanced sampling (Eq. 8-9), uniform sampling and per-image class shares."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cpsl_mmseg.clustering.sampling import (class_balanced_sample, class_distribution,
                                            class_quotas, uniform_sample)

IGNORE = 255


def per_class_counts(labels, indices, valid, num_classes):
    """(B, C) how many valid drawn slots fall on each class; asserts no ignore pixel."""
    flat = labels.reshape(labels.shape[0], -1)
    drawn = flat.gather(1, indices)
    assert not bool((drawn[valid] == IGNORE).any())
    counts = torch.zeros(labels.shape[0], num_classes, dtype=torch.long)
    for b in range(labels.shape[0]):
        counts[b] = torch.bincount(drawn[b][valid[b]], minlength=num_classes)
    return counts


def hand_made_image():
    """10 x 10: 70 px of class 0, 25 of class 1, 4 of class 2, 1 ignore pixel."""
    labels = torch.zeros(1, 10, 10, dtype=torch.long)
    labels.view(-1)[70:95] = 1
    labels.view(-1)[95:99] = 2
    labels.view(-1)[99] = IGNORE
    return labels


def test_class_distribution_hand_computed():
    labels = torch.cat([hand_made_image(), torch.full((1, 10, 10), IGNORE)])
    shares = class_distribution(labels, num_classes=4, ignore_index=IGNORE)
    assert torch.allclose(shares[0], torch.tensor([70, 25, 4, 0]) / 99.0)
    assert torch.equal(shares[1], torch.zeros(4))


def test_hand_computed_quotas_and_remainder():
    # M = 40 over 99 valid pixels: floor(40 * [70, 25, 4] / 99) = [28, 10, 1]; remainder 1.
    labels = hand_made_image()
    indices, valid = class_balanced_sample(labels, 40, num_classes=3, ignore_index=IGNORE,
                                           generator=torch.Generator().manual_seed(0))
    assert indices.shape == valid.shape == (1, 40) and indices.dtype == torch.long
    assert bool(valid.all())
    assert len(set(indices[0].tolist())) == 40
    counts = per_class_counts(labels, indices, valid, 3)[0]
    quota = torch.tensor([28, 10, 1])
    assert bool((counts >= quota).all()) and int((counts - quota).sum()) == 1


def test_rare_class_is_always_represented_unlike_uniform_sampling():
    # 4 rare pixels in 400 and M = 100: quota floor(100 * 4/400) = 1, so class-balanced
    # sampling draws one in every image; uniform sampling misses them in about a third.
    labels = torch.zeros(64, 20, 20, dtype=torch.long)
    labels[:, 7, 3:7] = 1
    gen = torch.Generator().manual_seed(1)
    indices, valid = class_balanced_sample(labels, 100, 2, IGNORE, generator=gen)
    assert bool((per_class_counts(labels, indices, valid, 2)[:, 1] >= 1).all())
    indices, valid = uniform_sample(labels, 100, 2, IGNORE, generator=gen)
    assert int((per_class_counts(labels, indices, valid, 2)[:, 1] == 0).sum()) >= 8


# Pixel counts of one image per class for the two settings of the class-balance issue.
# Toy: a 16x32 feature map (a 64x128 crop at stride 4), M = 16; fence, pole and person
# at 2.7-3.7 % of the pixels, traffic sign at 0.6 %.
TOY_COUNTS = [160, 40, 120, 14, 19, 3, 60, 50, 16, 30]
# Paper: a 64x112 feature map (896x512 at stride 8), M = 512, 19 Cityscapes-like shares
# down to 6 pixels (0.08 %, under 1/M of the image).
PAPER_COUNTS = [2552, 387, 1848, 42, 56, 78, 13, 35, 1211, 74, 255, 77, 9, 444, 17, 15,
                14, 6, 35]


def drawn_over_true_shares(sampler, counts, height, width, num_samples, draws):
    """Per class, (share of the drawn pixels) / (share of the image), over ``draws``
    draws from one image holding ``counts`` pixels per class in random places."""
    gen = torch.Generator().manual_seed(4)
    counts = torch.tensor(counts)
    assert int(counts.sum()) == height * width
    image = torch.repeat_interleave(torch.arange(len(counts)), counts)
    image = image[torch.randperm(image.numel(), generator=gen)].view(1, height, width)
    drawn = torch.zeros(len(counts), dtype=torch.long)
    chunk = 512
    for _ in range(draws // chunk):
        labels = image.expand(chunk, -1, -1)
        indices, valid = sampler(labels, num_samples, len(counts), IGNORE, generator=gen)
        assert bool(valid.all())
        drawn += per_class_counts(labels, indices, valid, len(counts)).sum(0)
    return (drawn / drawn.sum()) / (counts / counts.sum())


@pytest.mark.parametrize('sampler', [class_balanced_sample, uniform_sample])
@pytest.mark.parametrize('counts,height,width,num_samples', [
    (TOY_COUNTS, 16, 32, 16), (PAPER_COUNTS, 64, 112, 512)], ids=['toy', 'paper'])
def test_every_class_is_drawn_in_proportion_to_its_share(sampler, counts, height, width,
                                                         num_samples):
    # Sec. 3.3: the long-tail classes must reach the bank as often as their share says.
    # Eq. 9's floor alone drew the 0.08-0.15 % classes 1-2 % as often as their share
    # (quota 0, remainder taken by the majority classes) and the toy's 3 % classes 20 %.
    ratio = drawn_over_true_shares(sampler, counts, height, width, num_samples, 8192)
    assert torch.all((ratio - 1).abs() < 0.05), ratio


def test_quotas_add_up_to_m_and_round_each_expected_count_up_or_down():
    counts = torch.tensor([TOY_COUNTS, [500, 0, 0, 0, 0, 0, 12, 0, 0, 0], [3] + [0] * 9])
    gen = torch.Generator().manual_seed(5)
    expected = counts * 16 / counts.sum(1, keepdim=True)
    total = torch.zeros(counts.shape, dtype=torch.float64)
    for _ in range(4000):
        quota = class_quotas(counts, 16, generator=gen)
        assert quota.sum(1).tolist() == [16, 16, 3]  # M, or every pixel of a small image
        assert bool((quota[:2] >= expected[:2].floor()).all())
        assert bool((quota[:2] <= expected[:2].ceil()).all())
        total += quota
    assert torch.allclose(total[:2] / 4000, expected[:2].double(), atol=0.03)


def test_draws_are_uniform_within_a_class():
    # 2000 copies of one image: class 1 has 10 pixels and quota floor(20 * 10/40) = 5, so
    # each of its pixels must be drawn in about half of the images.
    labels = torch.zeros(2000, 4, 10, dtype=torch.long)
    labels[:, 0, :] = 1
    indices, valid = class_balanced_sample(labels, 20, 2, IGNORE,
                                           generator=torch.Generator().manual_seed(2))
    hits = torch.zeros(40)
    hits.index_add_(0, indices[valid], torch.ones(int(valid.sum())))
    assert torch.all((hits[:10] / 2000 - 0.5).abs() < 0.05)
    assert torch.all((hits[10:] / 2000 - 0.5).abs() < 0.05)


def test_small_and_empty_images_mark_missing_slots_invalid():
    labels = torch.full((3, 4, 4), IGNORE)
    labels[0, 0, :3] = torch.tensor([0, 1, 1])  # 3 valid pixels
    labels[1] = 2  # 16 valid pixels
    for sampler in (class_balanced_sample, uniform_sample):
        indices, valid = sampler(labels, 8, 3, IGNORE)
        assert valid.sum(1).tolist() == [3, 8, 0]
        assert sorted(indices[0][valid[0]].tolist()) == [0, 1, 2]
        assert torch.all(indices[~valid] == 0)


def test_generator_makes_draws_reproducible():
    labels = torch.randint(0, 5, (2, 16, 16))
    first = class_balanced_sample(labels, 30, 5, generator=torch.Generator().manual_seed(3))
    second = class_balanced_sample(labels, 30, 5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


@pytest.mark.parametrize('sampler', [class_balanced_sample, uniform_sample])
def test_invalid_labels_raise(sampler):
    with pytest.raises(ValueError, match=r'outside \[0, 3\)'):
        sampler(torch.tensor([[[0, 3]]]), 1, 3)
    with pytest.raises(ValueError, match=r'\(B, H, W\)'):
        sampler(torch.zeros(4, 4, dtype=torch.long), 1, 3)
    with pytest.raises(ValueError, match='ignore_index=1'):
        sampler(torch.zeros(1, 4, 4, dtype=torch.long), 1, 3, ignore_index=1)


@st.composite
def label_maps(draw):
    batch = draw(st.integers(1, 3))
    height, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    num_classes = draw(st.integers(1, 6))
    weights = draw(st.lists(st.integers(0, 9), min_size=num_classes + 1,
                            max_size=num_classes + 1).filter(lambda w: sum(w) > 0))
    seed = draw(st.integers(0, 2**16))
    gen = torch.Generator().manual_seed(seed)
    values = torch.multinomial(torch.tensor(weights, dtype=torch.float), batch * height * width,
                               replacement=True, generator=gen)
    values[values == num_classes] = IGNORE
    return values.view(batch, height, width), num_classes, seed


@settings(max_examples=80, deadline=None)
@given(case=label_maps(), num_samples=st.integers(1, 150))
def test_property_quota_remainder_and_no_ignore(case, num_samples):
    labels, num_classes, seed = case
    indices, valid = class_balanced_sample(labels, num_samples, num_classes, IGNORE,
                                           generator=torch.Generator().manual_seed(seed))
    assert indices.shape == valid.shape == (labels.shape[0], num_samples)
    present = torch.stack([torch.bincount(img[img != IGNORE], minlength=num_classes)
                           for img in labels.reshape(labels.shape[0], -1)])
    n_valid = present.sum(1)
    counts = per_class_counts(labels, indices, valid, num_classes)
    # Eq. 9 quota floor(M * share), capped by the pixels there are.
    quota = torch.minimum(num_samples * present // n_valid.clamp(min=1).unsqueeze(1), present)
    taken = torch.minimum(n_valid, torch.tensor(num_samples))
    assert torch.equal(valid.sum(1), taken)
    assert bool((counts >= quota).all()) and bool((counts <= present).all())
    assert torch.equal((counts - quota).sum(1), taken - quota.sum(1))  # the remainder
    assert bool((counts[quota >= 1] >= 1).all())  # rare classes with M * share >= 1 appear
    # the leftover slots go one per class, only to classes with a fractional part
    fractional = (num_samples * present) % n_valid.clamp(min=1).unsqueeze(1) > 0
    extra = counts - quota
    assert bool((extra <= 1).all())
    assert bool((extra[~fractional & (n_valid > num_samples).unsqueeze(1)] == 0).all())
    for b in range(labels.shape[0]):
        chosen = indices[b][valid[b]]
        assert len(set(chosen.tolist())) == chosen.numel()  # without replacement

    u_indices, u_valid = uniform_sample(labels, num_samples, num_classes, IGNORE,
                                        generator=torch.Generator().manual_seed(seed))
    u_counts = per_class_counts(labels, u_indices, u_valid, num_classes)
    assert torch.equal(u_valid.sum(1), taken)
    assert bool((u_counts <= present).all())
