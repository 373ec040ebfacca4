from __future__ import annotations

import math
from importlib import resources

import numpy as np
import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import (
    DatasetContract,
    MethodContract,
    build_context,
    execute,
    load_yaml,
    negative_control,
)
from assay_ntk.claims import CLAIMS, kernel_change_shrinks, linearized_match, loglog_slope
from assay_ntk.dataset import DigitsParity, DigitsParityConfig
from assay_ntk.method import (
    KernelWatchGD,
    NTKParam,
    NTKParamConfig,
    empirical_ntk,
    kernel_regression,
    linearized,
)
from torch import nn


def _net(beta: float = 0.1, alpha: float = 1.0) -> nn.Module:
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = nn.Linear(3, 5)
            self.readout = nn.Linear(5, 1)
            self.hidden_width = 5

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.readout(torch.relu(self.hidden(x)))

    net = Net()
    NTKParam(NTKParamConfig(beta=beta, output_scale=alpha)).apply(net, None)
    return net


def test_ntk_parameterisation_computes_the_scaled_layers():
    net = _net(beta=0.1, alpha=2.0)
    w1 = net.hidden.parametrizations.weight.original
    b1 = net.hidden.parametrizations.bias.original
    w2 = net.readout.parametrizations.weight.original
    b2 = net.readout.parametrizations.bias.original
    x = torch.randn(4, 3)
    h = torch.relu(x @ w1.T / math.sqrt(3) + 0.1 * b1)
    torch.testing.assert_close(net(x), 2.0 * (h @ w2.T / math.sqrt(5) + 0.1 * b2))


def test_trained_numbers_are_standard_normal_and_rates_scale_with_one_over_alpha_squared():
    ctx = build_context(load({"dataset": {"name": "ntk-digits-parity"},
                              "model": {"name": "mlp", "width": 256, "depth": 2},
                              "methods": {"parameterization": {"name": "ntk",
                                                               "output_scale": 0.5}},
                              "train": {"steps": 1}}).run)
    raw = ctx.model.hidden[1].parametrizations.weight.original.detach()
    assert abs(float(raw.std()) - 1) < 0.01 and abs(float(raw.mean())) < 0.01
    assert ctx.param_groups[0]["lr_mult"] == pytest.approx(4.0)
    mf = NTKParam(NTKParamConfig(mean_field=True, base_width=64))
    assert mf.alpha(ctx.model) == pytest.approx(0.5)              # sqrt(64 / 256)


def test_empirical_ntk_is_the_jacobian_times_its_transpose():
    net = _net()
    x1, x2 = torch.randn(6, 3), torch.randn(4, 3)
    params = [p for p in net.parameters()]

    def jac(x):
        rows = []
        for xi in x:
            grads = torch.autograd.grad(net(xi[None]).sum(), params)
            rows.append(torch.cat([g.reshape(-1) for g in grads]))
        return torch.stack(rows).double()

    want = (jac(x1) @ jac(x2).T).numpy()
    np.testing.assert_allclose(empirical_ntk(net, x1, x2, chunk=4), want, rtol=1e-5, atol=1e-6)


def test_linearized_gd_converges_to_kernel_regression():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((8, 8))
    theta = a @ a.T + np.eye(8)
    theta_test = rng.standard_normal((3, 8))
    f0, f0_test, y = rng.standard_normal(8), rng.standard_normal(3), rng.standard_normal(8)
    eta = 8 / (2 * np.linalg.eigvalsh(theta).max())
    lin = linearized(theta, theta_test, f0, f0_test, y, [eta] * 5000)
    np.testing.assert_allclose(lin, kernel_regression(theta, theta_test, f0, f0_test, y),
                               rtol=1e-8, atol=1e-8)
    # one step by hand: f_test - (2 eta / n) Theta_test (f0 - y)
    one = linearized(theta, theta_test, f0, f0_test, y, [eta])
    np.testing.assert_allclose(one, f0_test - 2 * eta / 8 * theta_test @ (f0 - y))


def _run(model: dict, steps: int, **param) -> dict:
    return {"dataset": {"name": "ntk-digits-parity", "n_train": 32, "n_val": 32},
            "model": model,
            "methods": {"parameterization": {"name": "ntk", **param},
                        "trainer": {"name": "ntk-gd", "stop_at_tol": False},
                        "optimizer": {"name": "sgd", "lr": 1.0, "momentum": 0.0}},
            "train": {"steps": steps, "batch_size": 32, "eval_every": steps}}


def test_a_model_linear_in_its_parameters_matches_its_linearisation_exactly():
    result = execute(load(_run({"name": "linear"}, 60)).run)
    assert result.status == "finished", result.error
    assert result.metrics["ntk/kernel_change"] < 1e-5          # the kernel of a linear model
    assert result.metrics["ntk/lin_rel_err"] < 1e-4
    assert result.metrics["ntk/steps"] == 60


def test_a_narrow_relu_net_moves_its_kernel_more_than_a_wide_one():
    narrow, wide = (execute(load(_run({"name": "mlp", "width": w, "depth": 2}, 100)).run)
                    for w in (16, 512))
    assert narrow.metrics["ntk/kernel_change"] > 2 * wide.metrics["ntk/kernel_change"]
    assert wide.metrics["ntk/lin_rel_err"] < narrow.metrics["ntk/lin_rel_err"]


def test_the_trainer_refuses_momentum():
    exp = _run({"name": "linear"}, 2)
    exp["methods"]["optimizer"]["momentum"] = 0.9
    result = execute(load(exp).run)
    assert result.status == "failed" and "momentum 0" in result.error


def test_digits_parity_inputs_lie_on_a_sphere_and_seeds_draw_other_images():
    data = DigitsParity(DigitsParityConfig()).load(seed=0)
    torch.testing.assert_close(data.train[0].norm(dim=1), torch.full((128,), 8.0))
    assert set(data.train[1].unique().tolist()) == {-1.0, 1.0}
    other = DigitsParity(DigitsParityConfig()).load(seed=1)
    assert not torch.equal(data.train[0], other.train[0])


class TestDigitsParityContract(DatasetContract):
    @pytest.fixture
    def component(self):
        return DigitsParity


class TestNTKParamContract(MethodContract):
    @pytest.fixture
    def component(self):
        return NTKParam


class TestKernelWatchGDContract(MethodContract):
    @pytest.fixture
    def component(self):
        return KernelWatchGD


def test_the_wide_arm_is_the_width_1024_run_of_the_widths_arm():
    files = resources.files("assay_ntk")
    wide = load(load_yaml(files.joinpath("configs/wide.yaml"))).run
    widths = load_yaml(files.joinpath("configs/widths.yaml"))
    widths.pop("sweep")
    assert load(widths).run.key == wide.key and wide.model["width"] == 1024
    assert {a for c in CLAIMS for a in c.arms.values()} == {"configs/widths.yaml",
                                                           "configs/wide.yaml"}


# --- the checks on made-up numbers ------------------------------------------------------------

def _widths(changes: dict[int, float]) -> dict:
    m = {}
    for n, (w, c) in enumerate(sorted(changes.items())):
        m[f"widths/trials/{n}/model.width"] = float(w)
        m[f"widths/trials/{n}/ntk/kernel_change"] = c
    return m


def _sqrt(c64: float, power: float = -0.5) -> dict[int, float]:
    return {w: c64 * (w / 64) ** power for w in (64, 128, 256, 512, 1024)}


def test_loglog_slope():
    assert loglog_slope(list(_sqrt(0.6).items())) == pytest.approx(-0.5)


def test_kernel_change_shrinks_decides_over_seeds():
    assert decide([kernel_change_shrinks(_widths(_sqrt(c, p)))
                   for c, p in ((0.6, -0.5), (0.5, -0.45), (0.7, -0.55))]).status == "PASS"
    assert decide([kernel_change_shrinks(_widths(_sqrt(c, p)))
                   for c, p in ((0.6, -0.05), (0.5, 0.0), (0.7, 0.05))]).status == "FAIL"
    assert decide([kernel_change_shrinks(_widths(_sqrt(c, p)))
                   for c, p in ((0.6, -0.5), (0.5, -0.9))]).status == "INCONCLUSIVE"
    two = _widths({64: 0.6, 128: 0.4, 256: math.nan})
    assert decide([kernel_change_shrinks(two)] * 3).status == "INVALID"


def test_linearized_match_decides_and_guards():
    ok = [{"wide/ntk/lin_rel_err": e, "wide/ntk/krr_rel_err": 0.1} for e in (0.02, 0.03, 0.025)]
    assert decide([linearized_match(m) for m in ok]).status == "PASS"
    far = [{"wide/ntk/lin_rel_err": e} for e in (0.2, 0.3, 0.25)]
    assert decide([linearized_match(m) for m in far]).status == "FAIL"
    gone = [{"wide/ntk/lin_rel_err": math.nan}] * 3
    assert decide([linearized_match(m) for m in gone]).status == "INVALID"


# --- negative controls (smoke budget, with the overrides a meaningful control needs) ------------

@pytest.mark.slow
def test_negative_control_mean_field_scaling_keeps_the_kernel_moving_at_every_width(tmp_path):
    """kernel-change-shrinks under mean-field readout scaling (output 1/width instead of
    1/sqrt(width), rates scaled to keep the function's initial speed): features move as much
    at width 1024 as at 64, so the slope is near 0 and the check must not PASS."""
    out = negative_control("ntk:kernel-change-shrinks", overrides={"widths": {
        "methods.parameterization.mean_field": True, "sweep.trials": 5, "train.steps": 300}},
        seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_a_small_output_scale_leaves_the_lazy_regime(tmp_path):
    """linearized-match with the output multiplied by 0.02 (rates by 2500): the same initial
    function-space speed, but weights move 50x as far, so the network leaves its
    linearisation and the check must not PASS."""
    out = negative_control("ntk:linearized-match", overrides={"wide": {
        "methods.parameterization.output_scale": 0.02, "train.steps": 300}}, seeds=3,
        tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
