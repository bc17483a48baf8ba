"""Class-balance diagnostics, the bank defined in images, and a given class prior."""
import math

import pytest
import torch

from cpsl_mmseg.clustering import ClassPrior
from cpsl_mmseg.clustering.diagnostics import (assignment_agreement, bank_over_prior,
                                               class_balance_report, label_shares)


def test_assignment_agreement_hand_computed():
    # Rows assigned (argmax) to classes 0, 0, 1, 1, 1 with labels 0, 1, 1, 1, 2:
    # class 0 precision 1/2, class 1 precision 2/3, class 2 never assigned.
    q = torch.tensor([[.9, .1, 0], [.6, .4, 0], [.2, .7, .1], [0, 1, 0], [.3, .4, .3]])
    out = assignment_agreement(q, torch.tensor([0, 1, 1, 1, 2]), 3)
    assert out['assigned'].tolist() == [2, 3, 0]
    assert out['correct'].tolist() == [1, 2, 0]
    assert out['precision'][:2].tolist() == pytest.approx([0.5, 2 / 3])
    assert math.isnan(out['precision'][2])
    with pytest.raises(ValueError, match=r'\(N, C\)'):
        assignment_agreement(q, torch.tensor([0, 1]), 3)


def test_bank_share_over_prior_share():
    shares = label_shares(torch.tensor([0, 0, 0, 1]), 3)
    assert shares.tolist() == [0.75, 0.25, 0.0]
    ratio = bank_over_prior(shares, torch.tensor([0.5, 0.5, 0.0]))
    assert ratio[:2].tolist() == pytest.approx([1.5, 0.5]) and math.isnan(ratio[2])
    report = class_balance_report(torch.tensor([0, 0, 0, 1]), torch.tensor([.5, .5, 0]),
                                  torch.eye(3)[[0, 1, 1]], torch.tensor([0, 1, 2]), 3)
    assert report['bank_share'].tolist() == [0.75, 0.25, 0.0]
    assert report['assigned'].tolist() == [1, 2, 0] and report['correct'].tolist() == [1, 1, 0]


def test_given_prior_is_fixed_and_normalised():
    prior = ClassPrior(3, mode='given', distribution=[2, 1, 1])
    prior.initialize(torch.tensor([1.0, 1.0, 8.0]))  # Eq. 10 counts do not move it
    prior.update(torch.tensor([[0.0, 0.0, 1.0]]))  # nor does Eq. 11
    assert prior().tolist() == pytest.approx([0.5, 0.25, 0.25])
    assert bool(prior.initialized)
    with pytest.raises(ValueError, match='class_prior.distribution'):
        ClassPrior(3, mode='given')
    with pytest.raises(ValueError, match='class_prior.distribution'):
        ClassPrior(3, mode='fixed', distribution=[1, 1, 1])
    with pytest.raises(ValueError, match='3 non-negative'):
        ClassPrior(3, mode='given', distribution=[1, -1, 1])


def test_the_bank_holds_images_of_m_rows(repo_root):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(repo_root / 'configs/smoke/cpsl_fcn_r18-tiny_2xb2-20it_'
                                          'smoke-64x64.py')).model
    model = MODELS.build(dict(cfg, memory_bank_images=5, samples_per_image=12))
    assert model.memory_bank.length == 60
    with pytest.raises(ValueError, match='model.memory_bank_images'):
        MODELS.build(dict(cfg, memory_bank_size=60))


def test_run_summary_averages_the_full_bank_reports(tmp_path):
    import json

    from cpsl_mmseg.utils.class_balance_report import (class_balance_table,
                                                       read_class_balance,
                                                       summarize_class_balance)
    assert read_class_balance(str(tmp_path)) is None
    report = dict(classes=['a', 'b'], prior=[0.8, 0.2])
    reports = [dict(report, iter=50, bank_full=False, bank_over_prior=[9.0, 9.0],
                    precision=[0.0, 0.0]),
               dict(report, iter=100, bank_full=True, bank_over_prior=[1.0, 0.5],
                    precision=[0.9, float('nan')]),
               dict(report, iter=150, bank_full=True, bank_over_prior=[1.2, 0.7],
                    precision=[0.7, 0.4])]
    (tmp_path / 'class_balance.json').write_text(json.dumps(reports))
    summary = summarize_class_balance(read_class_balance(str(tmp_path)))
    assert summary['reports'] == 2 and summary['bank_full']
    assert summary['bank_over_prior'] == pytest.approx([1.1, 0.6])
    assert summary['precision'] == pytest.approx([0.8, 0.4])  # NaN skipped
    lines = class_balance_table(summary, 'CPSL')
    assert '| b | 0.2000 | 0.60 | 0.40 |' in lines
