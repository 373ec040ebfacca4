from __future__ import annotations

import math

import pytest
import torch

from assay import UserError, load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_grad_noise.claims import LR, noise_rescues_deep_mlp
from assay_grad_noise.method import (
    NOISE_SEED_OFFSET, GaussianInit, GaussianInitConfig, GradNoise, GradNoiseConfig, noise_std,
)


def test_variance_anneals_as_eta_over_one_plus_t_to_the_gamma():
    assert noise_std(0, 0.01, 0.55) == pytest.approx(0.1)
    assert noise_std(99, 0.3, 0.55) ** 2 == pytest.approx(0.3 / 100 ** 0.55)
    assert noise_std(5, 1.0, 0.0) == pytest.approx(1.0)


def test_noise_is_added_to_the_gradient_before_the_inner_step():
    # SGD(lr, no momentum) on a zero gradient: the step is exactly -lr * sigma_t * z_t, with
    # z_t drawn from the wrapper's own generator (seeded like an un-setup run: offset only)
    w = torch.nn.Parameter(torch.zeros(5))
    cfg = GradNoiseConfig(eta=0.3, gamma=0.55, inner={"name": "sgd", "lr": 0.5, "momentum": 0})
    opt = GradNoise(cfg).build([{"params": [w]}])
    gen = torch.Generator().manual_seed(NOISE_SEED_OFFSET)
    expected = torch.zeros(5)
    for t in range(3):
        w.grad = torch.zeros(5)
        opt.step()
        expected -= 0.5 * noise_std(t, 0.3, 0.55) * torch.randn(5, generator=gen)
        torch.testing.assert_close(w.detach(), expected)


def test_noise_has_the_scheduled_spread():
    w = torch.nn.Parameter(torch.zeros(200_000))
    opt = GradNoise(GradNoiseConfig(eta=1.0, gamma=0.55, inner={
        "name": "sgd", "lr": 1.0, "momentum": 0})).build([{"params": [w]}])
    for t in range(10):
        before = w.detach().clone()
        w.grad = torch.zeros_like(w)
        opt.step()
        spread = float((w.detach() - before).std())
        assert spread == pytest.approx(noise_std(t, 1.0, 0.55), rel=0.02)


def test_zero_eta_leaves_the_inner_optimizer_unchanged():
    torch.manual_seed(0)
    a, b = torch.nn.Parameter(torch.randn(4)), None
    b = torch.nn.Parameter(a.detach().clone())
    wrapped = GradNoise(GradNoiseConfig(eta=0.0, inner={"name": "adamw", "lr": 0.1})).build(
        [{"params": [a]}])
    plain = torch.optim.AdamW([b], lr=0.1, weight_decay=0.01)
    for g in (torch.tensor([1.0, -2.0, 0.5, 0.0]), torch.tensor([0.3, 0.3, -1.0, 2.0])):
        a.grad, b.grad = g.clone(), g.clone()
        wrapped.step()
        plain.step()
    torch.testing.assert_close(a.detach(), b.detach())


def test_inner_is_validated_and_completed_at_load():
    cfg = GradNoiseConfig(inner={"name": "sgd", "lr": 0.05})
    assert cfg.inner == {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": False,
                         "weight_decay": 0.0}
    with pytest.raises(UserError, match="not an optimizer"):
        GradNoiseConfig(inner={"name": "cosine"})
    with pytest.raises(UserError, match="lr"):
        GradNoiseConfig(inner={"name": "sgd", "lr": -1.0})
    # a name no installed plugin has may come from a --plugin file: it is checked when the
    # run starts, against the run's registry, and fails the run before its first step
    loaded = load({"methods": {"optimizer": {"name": "grad-noise", "inner": {"name": "sdg"}}},
                   "train": {"steps": 5}})
    result = execute(loaded.run)
    assert result.status == "failed" and "Did you mean 'sgd'" in result.error, result.error


def test_gaussian_init_sets_weight_spread_and_zero_bias():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(200, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 10))
    GaussianInit(GaussianInitConfig(std=0.1)).apply(model, None)  # type: ignore[arg-type]
    assert float(model[0].weight.detach().std()) == pytest.approx(0.1, rel=0.02)
    assert float(model[2].bias.detach().abs().max()) == 0.0


def _run(seed: int, eta: float) -> dict[str, float]:
    loaded = load({"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 64},
                   "methods": {"optimizer": {"name": "grad-noise", "eta": eta,
                                             "inner": {"name": "sgd", "lr": 0.1}}},
                   "backend": {"name": "cpu"},
                   "train": {"steps": 150, "batch_size": 64, "eval_every": 50, "seed": seed}})
    result = execute(loaded.run)
    assert result.status == "finished", result.error
    return result.metrics


def test_digits_mlp_trains_through_assay_and_repeats_under_a_seed():
    first, again = _run(0, 0.01), _run(0, 0.01)
    assert first["val/loss"] < 0.6 and first["val/acc"] > 0.85, first   # starts at ~2.3
    assert first["val/loss"] == again["val/loss"]
    assert first["grad_noise/final_std"] == pytest.approx(math.sqrt(0.01 / 150 ** 0.55))
    assert _run(1, 0.01)["val/loss"] != first["val/loss"]


GRID = [0.01, 0.03, 0.1]


def _seed(noise: float, plain: float = 0.09, noise_lr: float = 0.03,
          plain_lr: float = 0.03) -> dict[str, float]:
    """One seed's numbers: both arms' grids, the best trial at the given rate, the others
    five points lower (or at chance when the arm is at chance)."""
    m = {}
    for arm, best_lr, acc in (("noise", noise_lr, noise), ("plain", plain_lr, plain)):
        m[f"{arm}/best/val/acc"], m[f"{arm}/best/{LR[arm]}"] = acc, best_lr
        for n, lr in enumerate(GRID):
            m[f"{arm}/trials/{n}/{LR[arm]}"] = lr
            m[f"{arm}/trials/{n}/val/acc"] = acc if lr == best_lr else max(acc - 0.05, 0.08)
    return m


def _status(seeds):
    return decide([noise_rescues_deep_mlp(m) for m in seeds])


def test_check_decides_from_the_interval_over_seeds():
    assert _status([_seed(0.85), _seed(0.80), _seed(0.88)]).status == "PASS"
    # the recorded outcome: both arms at chance in every seed
    d = _status([_seed(0.091, 0.090, 0.1, 0.01), _seed(0.085, 0.089, 0.01, 0.1),
                 _seed(0.092, 0.092)])
    assert d.status == "FAIL" and abs(d.effects[0].mean) < 0.01
    assert _status([_seed(0.60), _seed(0.10), _seed(0.35)]).status == "INCONCLUSIVE"


def test_a_plain_arm_at_chance_is_the_premise_not_a_divergence():
    d = _status([_seed(0.85, plain=0.08), _seed(0.85, plain=0.1), _seed(0.86, plain=0.09)])
    assert d.status == "PASS"


def test_a_learning_arm_at_the_grid_edge_is_not_established():
    d = _status([_seed(0.85, noise_lr=0.1), _seed(0.85), _seed(0.85)])
    assert d.status == "NOT-ESTABLISHED" and "seed 0" in d.reason and "noise" in d.reason
    d = _status([_seed(0.85, plain=0.5, plain_lr=0.01)] * 3)
    assert d.status == "NOT-ESTABLISHED" and "plain" in d.reason


@pytest.mark.slow
def test_negative_control_noise_replaced_by_plain_sgd_does_not_pass(tmp_path):
    """grad-noise:deep-mlp with the noise arm running plain SGD: the gain is zero, so the
    check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("grad-noise:deep-mlp", arms={"noise": "plain"}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
