from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import (
    DatasetContract,
    MethodContract,
    ModelContract,
    execute,
    negative_control,
)
from assay_learned_proximal_networks.claims import mse_learns_mmse, pm_learns_map
from assay_learned_proximal_networks.data import (
    LaplaceDenoising,
    LaplaceDenoisingConfig,
    mmse_denoiser,
    soft_threshold,
)
from assay_learned_proximal_networks.method import (
    ProximalMatching,
    denoiser_metrics,
    gamma_at,
    proximal_matching,
)
from assay_learned_proximal_networks.model import ICNN, LPN, LPNConfig


class TestDataContract(DatasetContract):
    @pytest.fixture
    def component(self):
        return LaplaceDenoising


class TestLPNContract(ModelContract):
    @pytest.fixture
    def component(self):
        return LPN


class TestLossContract(MethodContract):
    @pytest.fixture
    def component(self):
        return ProximalMatching


def test_pairs_are_laplace_signal_plus_gaussian_noise():
    data = LaplaceDenoising(LaplaceDenoisingConfig(n_train=200_000, sigma=0.5)).load(seed=0)
    y, x = data.train
    assert abs(float(x.abs().mean()) - 1.0) < 0.02            # E|x| = b for Laplace(0, b)
    assert abs(float((y - x).std()) - 0.5) < 0.01
    assert data.info == {"scale": 1.0, "sigma": 0.5}


def test_optimal_denoisers():
    y = np.linspace(-3, 3, 601)
    np.testing.assert_allclose(soft_threshold(np.array([-1.0, 0.1, 0.3]), 0.25),
                               [-0.75, 0.0, 0.05], atol=1e-12)
    mmse = mmse_denoiser(y, 1.0, 0.5)
    np.testing.assert_allclose(mmse, -mmse[::-1], atol=1e-9)   # odd
    assert (np.diff(mmse) > 0).all()                            # monotone
    # far from 0 the posterior is Gaussian around y - sigma^2 / b
    assert abs(mmse[-1] - (3 - 0.25)) < 0.01
    # Monte Carlo E[x | y ~ 0.5]
    rng = np.random.default_rng(0)
    x = rng.laplace(0, 1, 2_000_000)
    yy = x + 0.5 * rng.standard_normal(len(x))
    near = np.abs(yy - 0.5) < 0.01
    assert abs(x[near].mean() - mmse_denoiser(np.array([0.5]), 1.0, 0.5)[0]) < 0.02
    gap = np.abs(mmse - soft_threshold(y, 0.25))
    assert 0.15 < gap.max() < 0.2                               # what the claims rest on


def test_lpn_is_the_gradient_of_a_convex_potential():
    torch.manual_seed(0)
    net = ICNN(1, LPNConfig(width=16, depth=3, beta=2.0))
    with torch.no_grad():                                       # random, not tiny, weights
        for raw in net.raw:
            raw.normal_(0, 1)
    y = torch.linspace(-3, 3, 301).unsqueeze(1)
    with torch.no_grad():
        psi = net.psi(y)
        f = net(y)[:, 0]
    h = float(y[1] - y[0])
    assert (psi[2:] - 2 * psi[1:-1] + psi[:-2] >= -1e-5).all()            # convex
    torch.testing.assert_close(f[1:-1], (psi[2:] - psi[:-2]) / (2 * h), atol=2e-3, rtol=1e-2)
    assert (torch.diff(f) >= -1e-6).all()                                  # monotone
    loss = net(y).pow(2).sum()                                  # training: graph kept
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())


def test_the_lpn_is_the_proximal_operator_of_its_recovered_regulariser():
    """f(y) minimises 1/2 (x - y)^2 + R(x) over the points x = f(y') (Gribonval-Nikolova)."""
    torch.manual_seed(1)
    net = ICNN(1, LPNConfig(width=16, depth=2, beta=3.0))
    y = torch.linspace(-2, 2, 81).unsqueeze(1)
    x, r = net.regulariser(y)
    x, r, yv = x[:, 0].double(), r.double(), y[:, 0].double()
    cost = 0.5 * (x[None, :] - yv[:, None]) ** 2 + r[None, :]   # row i: y_i against every x_j
    assert (cost.diagonal()[:, None] <= cost + 1e-5).all()


def test_proximal_matching_by_hand_and_its_annealing():
    pred, x = torch.tensor([[0.0], [1.0], [3.0]]), torch.tensor([[0.0], [0.5], [0.0]])
    expected = (0 + (1 - math.exp(-0.25 / 0.04)) + (1 - math.exp(-9 / 0.04))) / 3
    assert float(proximal_matching(pred, x, 0.2)) == pytest.approx(expected)
    assert gamma_at(0, 100, 1.0, 0.1) == 1.0
    assert gamma_at(100, 100, 1.0, 0.1) == pytest.approx(0.1)
    assert gamma_at(50, 100, 1.0, 0.1) == pytest.approx(math.sqrt(0.1))


class Denoiser(torch.nn.Module):
    """A stand-in with a known map, for the measures."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def regulariser(self, y):
        x = self.fn(y)
        return x, 0.25 * x.abs()[:, 0]


def test_denoiser_metrics_of_the_exact_denoisers():
    soft = denoiser_metrics(Denoiser(lambda y: torch.sign(y) * (y.abs() - 0.25).clamp_min(0)),
                            1.0, 0.5, 3.0, 601)
    assert soft["lpn/dev_map"] < 1e-6 and 0.15 < soft["lpn/dev_mmse"] < 0.2
    assert soft["lpn/reg_corr"] > 0.999 and soft["lpn/min_slope"] >= 0
    ident = denoiser_metrics(Denoiser(lambda y: y), 1.0, 0.5, 3.0, 601)
    assert ident["lpn/dev_map"] == pytest.approx(0.25, abs=1e-6)


def test_a_short_run_records_the_measures():
    result = execute(load({
        "dataset": {"name": "lpn-laplace", "n_train": 2048, "n_val": 256},
        "model": {"name": "lpn", "width": 16, "depth": 2},
        "methods": {"loss": {"name": "lpn-proximal-matching", "form": "pm"},
                    "optimizer": {"name": "adamw", "lr": 1e-2, "weight_decay": 0.0}},
        "backend": {"name": "cpu", "threads": 1},
        "train": {"steps": 30, "batch_size": 256, "eval_every": 10}}).run)
    assert result.status == "finished", result.error
    m = result.metrics
    assert m["lpn/gamma_end"] == pytest.approx(0.1)
    assert m["lpn/min_slope"] >= -1e-4                          # monotone by construction
    assert all(math.isfinite(m[k]) for k in ("lpn/dev_map", "lpn/dev_mmse", "lpn/reg_corr"))


# --- checks ---------------------------------------------------------------------------------

def seed(pm=(0.05, 0.15, 0.995), mse=(0.16, 0.04, 0.99)):
    m = {}
    for arm, (dmap, dmmse, corr) in (("pm", pm), ("mse", mse)):
        m.update({f"{arm}/lpn/dev_map": dmap, f"{arm}/lpn/dev_mmse": dmmse,
                  f"{arm}/lpn/reg_corr": corr})
    return m


def status(check, *seeds):
    return decide([check(s) for s in seeds]).status


def test_pm_learns_map_decides_from_the_interval_over_seeds():
    assert status(pm_learns_map, seed(), seed(pm=(0.06, 0.14, 0.99)), seed()) == "PASS"
    like_mmse = (0.16, 0.04, 0.99)
    assert status(pm_learns_map, *[seed(pm=like_mmse)] * 3) == "FAIL"
    assert status(pm_learns_map, seed(), seed(pm=(0.3, 0.2, 0.9))) == "INCONCLUSIVE"
    nan = seed(pm=(math.nan, 0.1, 0.9))
    assert status(pm_learns_map, seed(), nan, seed()) == "INVALID"


def test_mse_learns_mmse_decides_from_the_interval_over_seeds():
    assert status(mse_learns_mmse, seed(), seed(mse=(0.15, 0.05, 0.99)), seed()) == "PASS"
    like_map = (0.05, 0.15, 0.99)
    assert status(mse_learns_mmse, *[seed(mse=like_map)] * 3) == "FAIL"
    same = seed(pm=(0.16, 0.04, 0.99))                # both arms learned the same map
    assert status(mse_learns_mmse, same, same, same) == "FAIL"
    # a net far from both denoisers (sup distances equal to 1e-8) is not the MMSE denoiser
    junk = seed(mse=(2.3, 2.3 - 1e-8, 0.8))
    assert status(mse_learns_mmse, junk, junk, junk) == "FAIL"
    missing = {k: v for k, v in seed().items() if not k.startswith("mse/")}
    assert status(mse_learns_mmse, seed(), missing, seed()) == "INVALID"


# --- negative controls (smoke budget with 300 steps, 3 seeds) ---------------------------------

STEPS = {"train.steps": 300, "train.eval_every": 100, "dataset.n_train": 20000}


@pytest.mark.slow
def test_negative_control_pm_learns_map_with_the_squared_error(tmp_path):
    """pm-learns-map with the pm arm trained on the squared error: it learns the MMSE
    denoiser (or has not converged), so the check must not PASS."""
    out = negative_control("learned-proximal-networks:pm-learns-map",
                           overrides={"pm": {**STEPS, "methods.loss.form": "mse"}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_mse_learns_mmse_with_proximal_matching(tmp_path):
    """mse-learns-mmse with the mse arm trained by proximal matching: both arms are the same
    run, so "farther from MAP than proximal matching" is a tie and must not PASS."""
    out = negative_control("learned-proximal-networks:mse-learns-mmse", arms={"mse": "pm"},
                           overrides={"mse": STEPS, "pm": STEPS}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
