"""Target BN calibration: statistics re-estimated on target batches."""
import pytest
import torch
from torch import nn

from cpsl_mmseg.engine.batch_norm_calibration import recalibrate_batch_norm


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                         nn.ReLU(), nn.Conv2d(4, 2, 1), nn.BatchNorm2d(2))


def test_recalibration_averages_the_statistics_of_all_batches():
    net = small_net()
    weights = {k: v.clone() for k, v in net.state_dict().items()
               if 'running' not in k and 'num_batches' not in k}
    g = torch.Generator().manual_seed(1)
    batches = [torch.randn(3, 3, 8, 8, generator=g) * 2 + 5 for _ in range(4)]
    net.eval()
    assert recalibrate_batch_norm(net, batches) == 2
    assert not net.training  # the mode is restored
    features = [net[0](b) for b in batches]
    torch.testing.assert_close(
        net[1].running_mean,
        torch.stack([f.mean(dim=(0, 2, 3)) for f in features]).mean(0))
    torch.testing.assert_close(
        net[1].running_var,
        torch.stack([f.var(dim=(0, 2, 3)) for f in features]).mean(0))
    assert net[1].momentum == 0.1  # restored
    for key, value in weights.items():
        torch.testing.assert_close(net.state_dict()[key], value)


def test_recalibration_without_batches_is_an_error_and_order_free():
    net = small_net()
    with pytest.raises(ValueError, match='no batch'):
        recalibrate_batch_norm(net, [])
    g = torch.Generator().manual_seed(2)
    batches = [torch.randn(2, 3, 8, 8, generator=g) for _ in range(3)]
    recalibrate_batch_norm(net, batches)
    forward = net[1].running_mean.clone()
    recalibrate_batch_norm(net, batches[::-1])
    torch.testing.assert_close(net[1].running_mean, forward)
