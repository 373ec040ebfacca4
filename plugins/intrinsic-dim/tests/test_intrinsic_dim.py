from __future__ import annotations

import copy
import math

import torch
from torch import nn

from assay import load
from assay.testing import execute
from assay_intrinsic_dim.claims import d_int90, small_fraction, width_stable
from assay_intrinsic_dim.method import attach_subspace, random_projection


def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))   # 16 + 10 = 26 params


def test_projection_shape_and_unit_columns():
    p = random_projection(26, 5, generator=torch.Generator().manual_seed(0))
    assert p.shape == (26, 5)
    torch.testing.assert_close(p.norm(dim=0), torch.ones(5))


def test_zero_offset_keeps_the_function_and_only_z_is_trainable():
    net = tiny_net()
    before = copy.deepcopy(net)
    sub = attach_subspace(net, dim=5)
    x = torch.randn(7, 3)
    torch.testing.assert_close(net(x), before(x))
    trainable = [p for p in net.parameters() if p.requires_grad]
    assert len(trainable) == 1 and trainable[0] is sub.z and sub.z.shape == (5,)


def test_weights_are_theta0_plus_p_z_after_training():
    net = tiny_net()
    theta0 = torch.cat([p.detach().flatten() for p in net.parameters()])
    gen = torch.Generator().manual_seed(1)
    sub = attach_subspace(net, dim=5, generator=gen)
    proj = random_projection(26, 5, generator=torch.Generator().manual_seed(1))
    opt = torch.optim.SGD([sub.z], lr=0.1)
    x, y = torch.randn(16, 3), torch.randint(2, (16,))
    for _ in range(5):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    assert sub.z.abs().sum() > 0
    theta = torch.cat([net[0].weight.flatten(), net[0].bias, net[2].weight.flatten(), net[2].bias])
    torch.testing.assert_close(theta.detach(), theta0 + proj @ sub.z.detach())
    # the frozen originals never moved
    originals = torch.cat([net[i].parametrizations[n].original.flatten()
                           for i in (0, 2) for n in ("weight", "bias")])
    torch.testing.assert_close(originals, theta0)


def test_gradient_of_z_is_p_transpose_times_full_gradient():
    net = tiny_net()
    full = copy.deepcopy(net)
    sub = attach_subspace(net, dim=4, generator=torch.Generator().manual_seed(2))
    proj = random_projection(26, 4, generator=torch.Generator().manual_seed(2))
    x, y = torch.randn(8, 3), torch.randint(2, (8,))
    nn.functional.cross_entropy(net(x), y).backward()
    nn.functional.cross_entropy(full(x), y).backward()
    g = torch.cat([p.grad.flatten() for p in full.parameters()])
    torch.testing.assert_close(sub.z.grad, proj.T @ g)


def test_subspace_training_through_assay():
    loaded = load({"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 32, "depth": 1},
                   "methods": {"parameterization": {"name": "intrinsic-dim", "dim": 200},
                               "optimizer": {"name": "adamw", "lr": 1e-2, "weight_decay": 0.0}},
                   "backend": {"name": "cpu", "threads": 1},
                   "train": {"steps": 60, "batch_size": 64, "eval_every": 30}})
    result = execute(loaded.run)
    assert result.status == "finished", result.error
    assert result.metrics["cost/trainable_params"] == 200
    assert result.history[-1][1]["val/acc"] > 0.3          # chance is 0.1


def scan(width: int, accs: dict[int, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for n, (dim, acc) in enumerate(accs.items()):
        out[f"sub{width}/trials/{n}/methods.parameterization.dim"] = dim
        out[f"sub{width}/trials/{n}/val/acc"] = acc
    return out


def test_d_int90_picks_the_smallest_dim_over_90_percent():
    m = {"full32/val/acc": 0.88, **scan(32, {64: 0.80, 16: 0.5, 128: 0.85, 32: 0.7})}
    assert d_int90(m, 32) == 64                              # 0.80 >= 0.9 * 0.88
    m["full32/val/acc"] = 0.9                                # 0.80 < 0.81
    assert d_int90(m, 32) == 128
    assert d_int90(m, 32) == 128
    m["full32/val/acc"] = 0.99
    assert math.isinf(d_int90(m, 32))


def test_checks_pass_and_fail_on_made_up_numbers():
    base = {"full32/val/acc": 0.95, "full256/val/acc": 0.97,
            "full32/cost/params": 2410.0, "full256/cost/params": 19210.0}
    good = {**base, **scan(32, {64: 0.6, 128: 0.9, 256: 0.93}),
            **scan(256, {64: 0.7, 128: 0.8, 256: 0.9})}
    assert small_fraction(good).passed and width_stable(good).passed
    drifting = {**base, **scan(32, {64: 0.9, 128: 0.9}),
                **scan(256, {64: 0.5, 256: 0.6, 1024: 0.9})}
    assert not small_fraction(drifting).passed      # 1024 / 19210 = 5.3%
    assert not width_stable(drifting).passed        # 1024 / 64 = 16x
    never = {**base, **scan(32, {64: 0.9}), **scan(256, {64: 0.1})}
    assert not small_fraction(never).passed and not width_stable(never).passed
