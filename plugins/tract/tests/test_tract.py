from __future__ import annotations

import pytest
import torch
from torch import nn

from assay import UserError
from assay import load
from assay.testing import execute
from assay_tract.claims import faster_than_baseline
from assay_tract.method import TrAct, TrActConfig, first_layer, tract_gradient


@pytest.fixture(autouse=True)
def float64():
    """Exact comparisons against hand computations; restored after every test."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _wrapped(layer: nn.Module, lam: float, inner: dict) -> torch.optim.Optimizer:
    method = TrAct(TrActConfig(lam=lam, inner=inner))
    method.attach(layer)
    return method.build([{"params": list(layer.parameters())}])


def test_sgd_step_solves_the_activation_proposal_problem():
    # The paper's procedure by hand: step the pre-activations z = x W^T by -eta * n * dL/dz,
    # then find the W minimising ||x W^T - z*||^2 / n + lam ||W - W_old||^2 (least squares on
    # a stacked system). TrAct + plain SGD must land on that minimiser in one step.
    torch.manual_seed(0)
    n, d, out, eta, lam = 6, 4, 3, 0.3, 0.1
    layer = nn.Linear(d, out, bias=False)
    x, target = torch.randn(n, d), torch.randn(n, out)
    w_old = layer.weight.detach().clone()
    z = x @ w_old.T
    z_leaf = z.clone().requires_grad_(True)
    ((z_leaf - target) ** 2).mean().backward()
    z_star = z - eta * n * z_leaf.grad
    a = torch.cat([x / n ** 0.5, lam ** 0.5 * torch.eye(d)])
    b = torch.cat([z_star / n ** 0.5, lam ** 0.5 * w_old.T])
    w_best = torch.linalg.lstsq(a, b).solution.T

    opt = _wrapped(layer, lam, {"name": "sgd", "lr": eta, "momentum": 0.0})
    ((layer(x) - target) ** 2).mean().backward()
    opt.step()
    torch.testing.assert_close(layer.weight.detach(), w_best)


def _patches_by_hand(x: torch.Tensor, k: int, pad: int) -> torch.Tensor:
    """(B, C, H, W) -> (B*H*W, C*k*k) zero-padded k x k patches, by explicit loops."""
    b, c, h, w = x.shape
    xp = torch.zeros(b, c, h + 2 * pad, w + 2 * pad)
    xp[:, :, pad:pad + h, pad:pad + w] = x
    n_r, n_s = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    rows = [xp[i, :, r:r + k, s:s + k].reshape(-1)
            for i in range(b) for r in range(n_r) for s in range(n_s)]
    return torch.stack(rows)


def test_conv2d_gradient_uses_the_gram_matrix_of_input_patches():
    torch.manual_seed(1)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = torch.rand(2, 2, 4, 5)
    opt = _wrapped(conv, 0.1, {"name": "sgd", "lr": 1.0, "momentum": 0.0})
    conv(x).pow(2).sum().backward()
    g, g_bias = conv.weight.grad.clone(), conv.bias.grad.clone()
    rows = _patches_by_hand(x, 3, 1)                                     # (40, 18)
    gram = rows.T @ rows / rows.shape[0] + 0.1 * torch.eye(18)
    expected = (g.reshape(3, -1) @ torch.linalg.inv(gram)).reshape(g.shape)
    before_w, before_b = conv.weight.detach().clone(), conv.bias.detach().clone()
    opt.step()
    torch.testing.assert_close(before_w - conv.weight.detach(), expected)
    torch.testing.assert_close(before_b - conv.bias.detach(), g_bias)   # bias: plain gradient


def test_conv1d_matches_the_same_formula():
    torch.manual_seed(2)
    conv = nn.Conv1d(2, 4, 3, padding=1)
    x = torch.rand(3, 2, 7)
    opt = _wrapped(conv, 0.5, {"name": "sgd", "lr": 1.0, "momentum": 0.0})
    conv(x).pow(2).sum().backward()
    g = conv.weight.grad.clone()
    xp = torch.nn.functional.pad(x, (1, 1))                             # (3, 2, 9)
    rows = torch.stack([xp[i, :, s:s + 3].reshape(-1) for i in range(3) for s in range(7)])
    gram = rows.T @ rows / rows.shape[0] + 0.5 * torch.eye(6)
    expected = (g.reshape(4, -1) @ torch.linalg.inv(gram)).reshape(g.shape)
    before = conv.weight.detach().clone()
    opt.step()
    torch.testing.assert_close(before - conv.weight.detach(), expected)


def test_large_lambda_tends_to_the_plain_gradient_over_lambda():
    g, rows = torch.randn(3, 5), torch.randn(20, 5)
    torch.testing.assert_close(tract_gradient(g, rows, 1e6) * 1e6, g, rtol=1e-4, atol=1e-6)


def test_first_layer_is_the_input_layer_of_core_models():
    from assay._builtin.models import CNNConfig, CNNNet, MLPConfig, MLPNet

    mlp = MLPNet(64, 10, MLPConfig(width=8, depth=3))
    cnn = CNNNet((1, 8, 8), 10, CNNConfig(channels=4))
    assert first_layer(mlp) is mlp.hidden[0] and first_layer(cnn) is cnn.convs[0]
    assert first_layer(mlp, "hidden.1") is mlp.hidden[1]
    with pytest.raises(UserError, match="embedding"):
        first_layer(nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 2)))


@pytest.mark.parametrize("inner", [{"name": "sgd", "lr": 0.05}, {"name": "adamw", "lr": 3e-3},
                                   {"name": "lion", "lr": 2e-3}], ids=lambda r: r["name"])
def test_composes_with_optimizers_and_trains_digits(inner):
    if inner["name"] == "lion":
        pytest.importorskip("assay_lion")
    torch.set_default_dtype(torch.float32)
    loaded = load({"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 32},
                   "methods": {"optimizer": {"name": "tract", "inner": inner}},
                   "backend": {"name": "cpu"},
                   "train": {"steps": 60, "batch_size": 64, "eval_every": 30}})
    result = execute(loaded.run)
    assert result.status == "finished", result.error
    assert result.metrics["val/loss"] < 1.6, result.metrics          # starts at ~2.3


def test_check_passes_and_fails_on_made_up_numbers():
    good = {"sgd-base/val/acc": 0.95, "sgd-tract/val/acc": 0.948,
            "adam-base/val/acc": 0.96, "adam-tract/val/acc": 0.97}
    assert faster_than_baseline(good).passed
    assert not faster_than_baseline({**good, "adam-tract/val/acc": 0.94}).passed
    assert not faster_than_baseline({**good, "sgd-tract/val/acc": 0.90}).passed
