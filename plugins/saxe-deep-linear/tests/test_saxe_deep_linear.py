from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from assay import load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_saxe_deep_linear.claims import (
    gaussian_slows_with_depth,
    learning_times,
    orthogonal_depth_independent,
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


def grid(arm: str, table: dict[int, dict[float, float]], total: int = 1000) -> dict[str, float]:
    out, n = {}, 0
    for depth, by_lr in table.items():
        for lr, steps in by_lr.items():
            out.update({f"{arm}/trials/{n}/model.depth": depth,
                        f"{arm}/trials/{n}/methods.optimizer.lr": lr,
                        f"{arm}/trials/{n}/saxe/steps_to_criterion": steps,
                        f"{arm}/trials/{n}/saxe/reached": float(steps <= total)})
            n += 1
    return out


def test_learning_time_is_the_best_over_learning_rates():
    m = grid("orthogonal", {2: {0.1: 300, 1.0: 40, 8.0: 1001}, 32: {0.01: 900, 0.1: 60}})
    assert learning_times(m, "orthogonal") == {2: (40, 1.0), 32: (60, 0.1)}


def times(t2: float, t32: float, lr32: float = 0.1) -> dict[int, dict[float, float]]:
    """Steps per (depth, lr): the fastest rate interior to a five-point grid unless moved."""
    grid32 = {lr: 1001.0 for lr in (0.01, 0.03, 0.1, 0.3, 1.0)}
    grid32[lr32] = t32
    return {2: {0.1: 300, 0.3: 90, 1.0: t2, 3.0: 80, 8.0: 1001}, 32: grid32}


def seed(orth: tuple[float, float], gauss: tuple[float, float], **kw) -> dict[str, float]:
    return {**grid("orthogonal", times(*orth, **kw)), **grid("gaussian", times(*gauss))}


def statuses(*seeds: dict[str, float]) -> tuple[str, str]:
    return (decide([orthogonal_depth_independent(m) for m in seeds]).status,
            decide([gaussian_slows_with_depth(m) for m in seeds]).status)


def test_checks_decide_from_the_interval_over_seeds():
    paper = [seed((40, 60), (40, 800)), seed((42, 60), (40, 900)), seed((38, 58), (45, 1001))]
    assert statuses(*paper) == ("PASS", "PASS")
    flipped = [seed((40, 400), (40, 60)), seed((40, 350), (40, 55)), seed((40, 380), (40, 70))]
    assert statuses(*flipped) == ("FAIL", "FAIL")
    mixed = [seed((40, 60), (40, 60)), seed((40, 200), (40, 500))]
    assert statuses(*mixed) == ("INCONCLUSIVE", "INCONCLUSIVE")


def test_guards():
    edge = [seed((40, 60), (40, 800), lr32=0.01)] * 3           # fastest deep rate: the lowest
    d = decide([orthogonal_depth_independent(m) for m in edge])
    assert d.status == "NOT-ESTABLISHED" and "depth [32]" in d.reason, d.reason
    never = {**grid("orthogonal", {2: {lr: 1001 for lr in (0.1, 1.0, 3.0)},
                                   32: {0.1: 60, 0.3: 50, 1.0: 70}}),
             **grid("gaussian", times(40, 800))}
    d = decide([orthogonal_depth_independent(never)] * 3)
    assert d.status == "INVALID" and "depth-2" in d.reason, d.reason
    shallow_only = {**grid("orthogonal", {2: {0.1: 300, 1.0: 40, 3.0: 80}}),
                    **grid("gaussian", times(40, 800))}
    assert decide([orthogonal_depth_independent(shallow_only)] * 3).status == "INVALID"


def store(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) with its artifacts, both under ``tmp_path``."""
    return str(tmp_path / "runs")


@pytest.mark.slow
def test_negative_control_orthogonal_replaced_by_gaussian_does_not_pass(tmp_path, monkeypatch):
    """saxe-deep-linear:orthogonal-depth-independent with the orthogonal arm running the
    Gaussian init: the deep net is slower, so the check must not PASS (smoke budget, 3 seeds).
    The sweep is cut to the two depths the ratio uses at one rate, so that the smoke budget's
    two trials measure both (at 20 steps no depth-32 net reaches the criterion, so the smoke
    ratio is a bound: the control exercises the check on real runs, not the full effect)."""
    two_depths = {"sweep.space": {"model.depth": {"choice": [2, 32]},
                                  "methods.optimizer.lr": {"choice": [1.0]}}}
    out = negative_control("saxe-deep-linear:orthogonal-depth-independent",
                           arms={"orthogonal": "gaussian"},
                           overrides={"orthogonal": two_depths, "gaussian": two_depths},
                           seeds=3, tracking_uri=store(tmp_path, monkeypatch))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
