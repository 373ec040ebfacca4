from __future__ import annotations

import cmath
import math
from importlib import resources

import pytest
import torch
import torch.nn.functional as F
from assay import UserError, load
from assay.claims import decide
from assay.testing import MethodContract, ModelContract, execute, load_yaml, negative_control
from assay_snnk_urf.claims import CLAIMS, layer_swap, urf_rate
from assay_snnk_urf.method import (
    URFEstimate,
    URFEstimateConfig,
    frequencies,
    loglog_slope,
    sphere,
    urf_estimate,
    urf_features,
)
from assay_snnk_urf.model import SNNKMLP, SNNKLinear

# --- the URF estimator --------------------------------------------------------------------------


def test_one_feature_by_hand():
    # m = 1, xi = 1/(2 pi): a = sqrt(i); the estimate is
    # Re exp(i b) exp(a g.w - i |w|^2/2) exp(a g.x - i |x|^2/2)
    f64 = {"dtype": torch.float64}
    w, x = torch.tensor([[0.3, -0.2]], **f64), torch.tensor([[0.5, 0.1]], **f64)
    g, b = torch.tensor([[1.2, -0.7]], **f64), torch.tensor([0.4], **f64)
    xi = torch.tensor([1 / (2 * math.pi)], **f64)
    a = complex(math.sqrt(0.5), math.sqrt(0.5))                               # sqrt(i)
    gw, gx = 1.2 * 0.3 + 0.7 * 0.2, 1.2 * 0.5 - 0.7 * 0.1
    ww, xx = 0.3 ** 2 + 0.2 ** 2, 0.5 ** 2 + 0.1 ** 2
    want = (cmath.exp(0.4j) * cmath.exp(a * gw - 1j * ww / 2) * cmath.exp(a * gx - 1j * xx / 2)).real
    assert float(urf_estimate(w, b, x, g, xi)) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("activation,f", [("cos", torch.cos),
                                          ("gauss", lambda z: torch.exp(-z * z / 2))])
def test_the_estimate_is_unbiased(activation, f):
    # many features: the estimate converges to f(w.x + b) (Monte Carlo error ~ 1/sqrt(m))
    gen = torch.Generator().manual_seed(0)
    w, x = sphere(5, 8, 0.8, gen), sphere(5, 8, 0.8, gen)
    b = torch.rand(5, generator=gen, dtype=torch.float64) if activation == "cos" \
        else torch.zeros(5, dtype=torch.float64)
    m = 400_000
    g = torch.randn(m, 8, generator=gen, dtype=torch.float64)
    est = urf_estimate(w, b, x, g, frequencies(activation, m, gen))
    torch.testing.assert_close(est, f((w * x).sum(1) + b), atol=0.02, rtol=0)


def test_dropping_the_correction_biases_the_estimate():
    gen = torch.Generator().manual_seed(1)
    w, x = sphere(5, 8, 1.0, gen), sphere(5, 8, 1.0, gen)
    b = torch.zeros(5, dtype=torch.float64)
    g = torch.randn(200_000, 8, generator=gen, dtype=torch.float64)
    xi = frequencies("cos", 200_000, gen)
    est = urf_estimate(w, b, x, g, xi, correction=False)
    assert (est - torch.cos((w * x).sum(1))).abs().max() > 0.1


def test_features_factor_the_estimate_into_weights_and_inputs():
    # Phi(w, b) depends on w and b only, Psi(x) on x only: the estimate is their dot product
    gen = torch.Generator().manual_seed(2)
    w, x = sphere(3, 4, 1.0, gen), sphere(6, 4, 1.0, gen)
    b, g = torch.rand(3, dtype=torch.float64), torch.randn(32, 4, dtype=torch.float64)
    xi = frequencies("cos", 32, gen)
    table = (urf_features(w, g, xi, b) @ urf_features(x, g, xi).T).real        # (3, 6)
    for i in range(3):
        for j in range(6):
            one = urf_estimate(w[i:i + 1], b[i:i + 1], x[j:j + 1], g, xi)
            assert float(table[i, j]) == pytest.approx(float(one), rel=1e-10)


def test_cos_frequencies_are_plus_minus_one_over_two_pi():
    xi = frequencies("cos", 1000, torch.Generator().manual_seed(3))
    assert set((xi * 2 * math.pi).round().tolist()) == {-1.0, 1.0}


def test_loglog_slope_of_a_power_law():
    assert loglog_slope([16, 64, 256], [3 / 16, 3 / 64, 3 / 256]) == pytest.approx(-1.0)


def test_measure_is_seeded_and_records_every_m():
    cfg = URFEstimateConfig(dim=4, pairs=20, draws=2, features=[8, 32])
    a, b = URFEstimate(cfg).measure(5), URFEstimate(cfg).measure(5)
    assert a == b and set(a) == {"urf/rel_mse_m8", "urf/rel_mse_m32", "urf/slope"}


def test_feature_counts_must_be_distinct():
    with pytest.raises(ValueError):
        URFEstimateConfig(features=[16, 16])


# --- the SNNK layer and model -------------------------------------------------------------------

def test_snnk_layer_is_random_features_of_the_input_times_trainable_phi():
    torch.manual_seed(4)
    layer, x = SNNKLinear(6, 5, m=7), torch.randn(3, 6)
    G = layer.G
    torch.testing.assert_close(layer(x), F.relu(x @ G.T) / math.sqrt(7) @ layer.phi.T + layer.bias)
    assert [n for n, p in layer.named_parameters()] == ["phi", "bias"]        # G is fixed
    assert tuple(layer.phi.shape) == (5, 7)


def test_snnk_start_approximates_the_arc_cosine_kernel_of_the_initial_weights():
    # Phi(w) . Psi(x) -> E[ReLU(g.w) ReLU(g.x)] = |w||x| (sin t + (pi - t) cos t) / (2 pi)
    torch.manual_seed(5)
    layer, x = SNNKLinear(4, 3, m=200_000), torch.randn(2, 4)
    torch.manual_seed(5)
    w = torch.nn.Linear(4, 3).weight.detach()                  # the same W0 as the layer drew
    cos_t = F.normalize(x, dim=1) @ F.normalize(w, dim=1).T
    t = torch.arccos(cos_t.clamp(-1, 1))
    want = x.norm(dim=1)[:, None] * w.norm(dim=1) * (torch.sin(t) + (math.pi - t) * cos_t) \
        / (2 * math.pi)
    torch.testing.assert_close(layer(x) - layer.bias, want, atol=0.01, rtol=0.03)


def test_parameter_counts_of_the_claims_layout():
    data = type("D", (), {"task": "classification", "input_shape": (64,), "n_outputs": 10})()
    net = SNNKMLP(SNNKMLP.Config(width=256, depth=2, features=64, snnk_layers=[1])).build(data)
    assert sum(p.numel() for p in net.parameters()) == 64 * 256 + 256 + 256 * 64 + 256 + 2570


def test_snnk_layers_must_be_hidden_layers():
    data = type("D", (), {"task": "classification", "input_shape": (8,), "n_outputs": 2})()
    with pytest.raises(UserError, match="not hidden layers"):
        SNNKMLP(SNNKMLP.Config(depth=2, snnk_layers=[2])).build(data)


def test_snnk_mlp_trains_on_digits_through_assay():
    r = execute(load({"dataset": {"name": "digits"},
                      "model": {"name": "snnk-mlp", "width": 64, "depth": 2, "features": 32},
                      "methods": {"optimizer": {"name": "adamw", "lr": 3e-3}},
                      "backend": {"name": "cpu"},
                      "train": {"steps": 150, "batch_size": 64, "eval_every": 150}}).run)
    assert r.status == "finished", r.error
    assert r.metrics["val/acc"] > 0.8, r.metrics


class TestURFEstimateContract(MethodContract):
    @pytest.fixture
    def component(self):
        return URFEstimate


class TestSNNKMLPContract(ModelContract):
    @pytest.fixture
    def component(self):
        return SNNKMLP


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_snnk_urf").joinpath(arm))).run
    assert run.train.steps in (1, 1000)


# --- the claims' checks on made-up numbers ------------------------------------------------------

def _urf(slope: float) -> dict:
    return {"urf/urf/slope": slope, "urf/urf/rel_mse_m16": 0.5, "urf/urf/rel_mse_m1024": 0.008}


def test_rate_check():
    assert decide([urf_rate(_urf(s)) for s in (-1.0, -0.98, -1.02)]).status == "PASS"
    assert decide([urf_rate(_urf(s)) for s in (-0.1, -0.08, -0.12)]).status == "FAIL"
    assert decide([urf_rate(_urf(s)) for s in (-1.0, -0.5)]).status == "INCONCLUSIVE"
    broken = {**_urf(-1.0), "urf/urf/rel_mse_m16": math.inf}
    assert decide([urf_rate(broken)] * 3).status == "INVALID"


LRS = [1e-4, 1e-3, 1e-2, 1e-1]


def _arm(arm: str, acc: float, params: float, best_lr: float = 1e-3) -> dict:
    m = {f"{arm}/best/val/acc": acc}
    for n, lr in enumerate(LRS):
        m.update({f"{arm}/trials/{n}/methods.optimizer.lr": lr,
                  f"{arm}/trials/{n}/val/acc": acc if lr == best_lr else acc - 0.1,
                  f"{arm}/trials/{n}/cost/trainable_params": params})
    return m


def _seed(snnk: float, mlp: float = 0.98, snnk_params: float = 35850.0, **kw) -> dict:
    return {**_arm("snnk", snnk, snnk_params), **_arm("mlp", mlp, 85002.0, **kw)}


def test_layer_swap_check():
    good = [_seed(0.975), _seed(0.97), _seed(0.98), _seed(0.972), _seed(0.978)]
    assert decide([layer_swap(m) for m in good]).status == "PASS"
    worse = [_seed(0.90), _seed(0.91), _seed(0.92)]
    assert decide([layer_swap(m) for m in worse]).status == "FAIL"
    heavy = [_seed(0.98, snnk_params=60000.0)] * 3
    assert decide([layer_swap(m) for m in heavy]).status == "FAIL"
    at_chance = [_seed(0.98, mlp=0.12)] * 3
    d = decide([layer_swap(m) for m in at_chance])
    assert d.status == "INVALID" and "mlp" in d.reason
    edge = [_seed(0.98, best_lr=1e-1)] * 3
    d = decide([layer_swap(m) for m in edge])
    assert d.status == "NOT-ESTABLISHED" and "mlp" in d.reason


@pytest.mark.slow
def test_negative_control_urf_without_its_correction_is_not_one_over_m(tmp_path):
    """urf-rate with the -a^2|v|^2/2 terms dropped: a biased estimate whose error levels off,
    so the slope must not land in [-1.2, -0.8] (smoke budget, 3 seeds)."""
    out = negative_control("snnk-urf:urf-rate",
                           overrides={"urf": {"methods.trainer.correction": False}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_one_feature_snnk_layer_does_not_match_the_mlp(tmp_path):
    """layer-swap with one random feature in the SNNK layer (a rank-one bottleneck): it cannot
    separate ten digits, so the check must not PASS (smoke budget with 300 steps, 3 seeds)."""
    out = negative_control("snnk-urf:layer-swap",
                           overrides={"snnk": {"model.features": 1, "train.steps": 300},
                                      "mlp": {"train.steps": 300}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
