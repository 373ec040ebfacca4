from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from assay import load
from assay.testing import execute
from assay_saxe_deep_linear.claims import (
    gaussian_slows_with_depth, learning_times, orthogonal_depth_independent,
)
from assay_saxe_deep_linear.dataset import LinearTeacher, LinearTeacherConfig
from assay_saxe_deep_linear.method import init_weights, least_squares_loss
from assay_saxe_deep_linear.model import DeepLinearConfig, DeepLinearNet


def test_orthogonal_init_is_orthogonal_layer_by_layer_and_end_to_end():
    torch.manual_seed(0)
    net = DeepLinearNet(8, 8, DeepLinearConfig(width=8, depth=6))
    init_weights(net, "orthogonal", gain=1.0)
    eye = torch.eye(8)
    for layer in net.layers:
        torch.testing.assert_close(layer.weight.T @ layer.weight, eye, atol=1e-5, rtol=0)
    w = net.end_to_end()
    torch.testing.assert_close(w.T @ w, eye, atol=1e-4, rtol=0)    # product stays orthogonal
    x = torch.randn(5, 8)
    torch.testing.assert_close(net(x).norm(dim=1), x.norm(dim=1))   # norms preserved exactly


def test_rectangular_orthogonal_layers_have_unit_singular_values():
    torch.manual_seed(0)
    net = DeepLinearNet(4, 3, DeepLinearConfig(width=10, depth=3))
    init_weights(net, "orthogonal", gain=2.0)
    for layer in net.layers:
        torch.testing.assert_close(torch.linalg.svdvals(layer.weight),
                                   torch.full((min(layer.weight.shape),), 2.0))


def test_scaled_gaussian_init_has_variance_one_over_fan_in():
    torch.manual_seed(0)
    net = DeepLinearNet(400, 400, DeepLinearConfig(width=400, depth=2))
    init_weights(net, "gaussian", gain=1.0)
    w = net.layers[0].weight
    assert abs(w.std().item() * 20.0 - 1.0) < 0.01 and abs(w.mean().item()) < 1e-3
    assert torch.linalg.svdvals(w).max() > 1.8                     # spread, not orthogonal


def test_teacher_has_the_requested_spectrum_and_whitened_inputs():
    cfg = LinearTeacherConfig(n_train=100, in_dim=6, out_dim=4, singular_values=[3.0, 1.0])
    data = LinearTeacher(cfg).load(seed=0)
    np.testing.assert_allclose(np.linalg.svd(data.info["teacher"], compute_uv=False)[:3],
                               [3.0, 1.0, 0.0], atol=1e-10)
    x, y = data.train
    torch.testing.assert_close(x.T @ x / 100, torch.eye(6), atol=1e-4, rtol=0)
    torch.testing.assert_close(y, x @ torch.from_numpy(data.info["teacher"].T).float(),
                               atol=1e-4, rtol=0)
    assert least_squares_loss(x, y) < 1e-10


def experiment(depth: int, lr: float, steps: int, stop: bool = True) -> dict:
    return {"dataset": {"name": "saxe-deep-linear-teacher", "in_dim": 8, "out_dim": 4,
                        "singular_values": [2.0, 1.0], "n_train": 64, "n_val": 32},
            "model": {"name": "saxe-deep-linear", "width": 8, "depth": depth},
            "methods": {"parameterization": {"name": "saxe-deep-linear-init"},
                        "trainer": {"name": "saxe-deep-linear-gd", "stop_at_criterion": stop},
                        "optimizer": {"name": "sgd", "lr": lr, "momentum": 0.0}},
            "backend": {"name": "cpu", "threads": 1},
            "train": {"steps": steps, "batch_size": 64, "eval_every": 50}}


def test_trainer_takes_full_batch_steps():
    result = execute(load(experiment(3, 0.3, 2, stop=False)).run, keep_state=True)
    torch.manual_seed(0)
    data = LinearTeacher(LinearTeacherConfig(in_dim=8, out_dim=4, singular_values=[2.0, 1.0],
                                             n_train=64, n_val=32)).load(seed=0)
    net = DeepLinearNet(8, 4, DeepLinearConfig(width=8, depth=3))
    init_weights(net, "orthogonal", 1.0)
    x, y = data.train
    for _ in range(2):
        grads = torch.autograd.grad(F.mse_loss(net(x), y), list(net.parameters()))
        with torch.no_grad():
            for p, g in zip(net.parameters(), grads):
                p -= 0.3 * g
    for i, layer in enumerate(net.layers):
        torch.testing.assert_close(result.state_dict[f"layers.{i}.weight"], layer.weight)


def test_learning_time_is_recorded_and_the_run_stops_at_the_criterion():
    result = execute(load(experiment(3, 0.5, 2000)).run)
    assert result.status == "finished", result.error
    m = result.metrics
    steps = m["saxe/steps_to_criterion"]
    assert m["saxe/reached"] == 1 and 1 <= steps < 2000
    assert result.history[-1][0] == steps                           # stopped right there
    diverged = execute(load(experiment(3, 50.0, 200)).run).metrics
    assert diverged["saxe/diverged"] == 1 and diverged["saxe/steps_to_criterion"] == 201


def grid(arm: str, table: dict[int, dict[float, float]]) -> dict[str, float]:
    out, n = {}, 0
    for depth, by_lr in table.items():
        for lr, steps in by_lr.items():
            out.update({f"{arm}/trials/{n}/model.depth": depth,
                        f"{arm}/trials/{n}/methods.optimizer.lr": lr,
                        f"{arm}/trials/{n}/saxe/steps_to_criterion": steps})
            n += 1
    return out


def test_learning_time_is_the_best_over_learning_rates():
    m = grid("orthogonal", {2: {0.1: 300, 1.0: 40, 8.0: 1001}, 32: {0.01: 900, 0.1: 60}})
    assert learning_times(m, "orthogonal") == {2: (40, 1.0), 32: (60, 0.1)}


def test_checks_pass_and_fail_on_made_up_numbers():
    good = {**grid("orthogonal", {2: {1.0: 40}, 8: {0.3: 45}, 32: {0.1: 60}}),
            **grid("gaussian", {2: {1.0: 40}, 8: {0.3: 120}, 32: {0.01: 1001}})}
    assert orthogonal_depth_independent(good).passed and gaussian_slows_with_depth(good).passed
    bad = {**grid("orthogonal", {2: {1.0: 40}, 32: {0.1: 200}}),
           **grid("gaussian", {2: {1.0: 40}, 32: {0.1: 100}})}
    assert not orthogonal_depth_independent(bad).passed
    assert not gaussian_slows_with_depth(bad).passed
