"""assay.lib.subspace: theta = theta_0 + P z (moved from the intrinsic-dim plugin, shared with
intrinsic-dimension-ft)."""
from __future__ import annotations

import copy

import pytest
import torch
from assay import UserError
from assay.lib.subspace import attach_subspace, random_projection
from torch import nn


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))   # 16 + 10 = 26 params


def test_projection_columns_have_unit_length_or_variance_one_over_d():
    p = random_projection(26, 5, generator=torch.Generator().manual_seed(0))
    assert p.shape == (26, 5)
    torch.testing.assert_close(p.norm(dim=0), torch.ones(5))
    q = random_projection(10_000, 3, normalize=False, generator=torch.Generator().manual_seed(0))
    assert abs(float(q.pow(2).sum(0).mean()) - 1.0) < 0.05


def test_the_weights_are_theta0_plus_p_z_and_only_z_trains():
    net = _net()
    before = copy.deepcopy(net)
    theta0 = torch.cat([p.detach().flatten() for p in net.parameters()])
    sub = attach_subspace(net, dim=4, generator=torch.Generator().manual_seed(3))
    proj = random_projection(26, 4, generator=torch.Generator().manual_seed(3))
    x = torch.randn(5, 3)
    torch.testing.assert_close(net(x), before(x))                   # z = 0: the same function
    assert [p for p in net.parameters() if p.requires_grad] == [sub.z]
    with torch.no_grad():
        sub.z.copy_(torch.tensor([0.5, -1.0, 2.0, 0.25]))
    theta = torch.cat([net[0].weight.flatten(), net[0].bias, net[2].weight.flatten(),
                       net[2].bias])
    torch.testing.assert_close(theta.detach(), theta0 + proj @ sub.z.detach())


def test_the_gradient_of_z_is_p_transpose_times_the_full_gradient():
    net, full = _net(), _net()
    sub = attach_subspace(net, dim=4, generator=torch.Generator().manual_seed(2))
    proj = random_projection(26, 4, generator=torch.Generator().manual_seed(2))
    x, y = torch.randn(8, 3), torch.randint(2, (8,))
    nn.functional.cross_entropy(net(x), y).backward()
    nn.functional.cross_entropy(full(x), y).backward()
    g = torch.cat([p.grad.flatten() for p in full.parameters()])
    torch.testing.assert_close(sub.z.grad, proj.T @ g)


def test_a_projection_too_large_to_hold_is_refused():
    with pytest.raises(UserError, match="dense projection"):
        attach_subspace(nn.Linear(100_000, 100), dim=100)
