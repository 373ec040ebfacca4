"""assay.lib.init.init_weights (moved from the saxe-deep-linear plugin, shared with
advani-saxe-highdim)."""
from __future__ import annotations

import torch
from assay.lib.init import init_weights
from torch import nn


def test_gaussian_init_has_variance_gain_squared_over_fan_in_and_zero_biases():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(400, 300), nn.Linear(300, 2))
    init_weights(net, "gaussian", gain=0.5)
    w = net[0].weight
    assert abs(float(w.std()) * 20.0 / 0.5 - 1.0) < 0.01 and abs(float(w.mean())) < 1e-3
    assert abs(float(net[1].weight.std()) * 300 ** 0.5 / 0.5 - 1.0) < 0.1
    assert not net[0].bias.any() and not net[1].bias.any()
    # a weight row (one unit's weights) has norm about gain
    assert abs(float(w.norm(dim=1).mean()) - 0.5) < 0.01


def test_orthogonal_init_has_every_singular_value_equal_to_gain():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 10), nn.Linear(10, 3))
    init_weights(net, "orthogonal", gain=2.0)
    for layer in net:
        torch.testing.assert_close(torch.linalg.svdvals(layer.weight),
                                   torch.full((min(layer.weight.shape),), 2.0))
