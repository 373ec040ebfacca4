from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from assay import load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_xor_benign_grokking.claims import groks_benignly, overfit_first
from assay_xor_benign_grokking.dataset import XorClusters, XorClustersConfig, xor_clusters
from assay_xor_benign_grokking.method import grok_metrics
from assay_xor_benign_grokking.model import TwoLayerReLUConfig, TwoLayerReLUNet


def test_clusters_sit_in_xor_position():
    x, y = xor_clusters(4000, 10, 50.0, np.random.default_rng(0))
    on_first = np.abs(x[:, 0]) > np.abs(x[:, 1])            # nearest pair of means
    assert (on_first == (y == 1)).all()                      # +-mu1 -> 1, +-mu2 -> 0
    for label, axis in ((1, 0), (0, 1)):                     # both signs of each mean occur
        pos = (x[y == label, axis] > 0).mean()
        assert 0.4 < pos < 0.6
    # XOR: the class means coincide (both ~0), so no linear rule separates the classes
    np.testing.assert_allclose(x[y == 1].mean(0), x[y == 0].mean(0), atol=5.0)


def test_training_labels_flip_at_the_requested_rate_and_val_stays_clean():
    cfg = XorClustersConfig(n_train=4000, n_val=1000, dim=20, mean_norm=50.0, label_noise=0.2)
    data = XorClusters(cfg).load(seed=0)
    for (x, y), rate in ((data.train, 0.2), (data.val, 0.0)):
        clean = (x[:, 0].abs() > x[:, 1].abs()).long()
        assert abs((clean != y).float().mean().item() - rate) < 0.03
    other = XorClusters(cfg).load(seed=1)
    assert not torch.equal(data.train[0], other.train[0])   # fresh draw per run seed


def test_model_logits_give_the_logistic_loss_and_fixed_output_weights():
    torch.manual_seed(0)
    net = TwoLayerReLUNet(6, TwoLayerReLUConfig(width=4, init_std=1.0))
    assert [n for n, _ in net.named_parameters()] == ["hidden.weight"]
    torch.testing.assert_close(net.a, torch.tensor([0.5, 0.5, -0.5, -0.5]))
    x, y = torch.randn(9, 6), torch.randint(2, (9,))
    f = (torch.relu(x @ net.hidden.weight.T) * net.a).sum(1)
    torch.testing.assert_close(net.score(x), f)
    logistic = torch.log1p(torch.exp(-(2 * y - 1) * f)).mean()
    torch.testing.assert_close(F.cross_entropy(net(x), y), logistic)


def test_grok_metrics_from_a_history():
    h = [(1, {"train/acc": 0.9, "val/acc": 0.5}), (2, {"train/acc": 1.0, "val/acc": 0.55}),
         (10, {"train/acc": 1.0, "val/acc": 0.8}), (20, {"train/acc": 1.0, "val/acc": 0.95})]
    g = grok_metrics(h, 20, 0.9)
    assert (g["grok/fit_step"], g["grok/val_acc_at_fit"]) == (2, 0.55)
    assert g["grok/val_acc_at_step1"] == 0.5
    assert g["grok/generalize_step"] == 20
    assert g["grok/min_train_acc_after_fit"] == 1.0 and g["grok/final_val_acc"] == 0.95
    never = grok_metrics(h[:3], 10, 0.9)
    assert never["grok/generalize_step"] == 11
    unfit = grok_metrics(h[:1], 10, 0.9)
    assert unfit["grok/fit_step"] == 11 and math.isnan(unfit["grok/val_acc_at_fit"])


def run(steps: int, lr: float, dim: int = 300):
    return execute(load({
        "dataset": {"name": "xor-benign-grokking", "n_train": 20, "n_val": 40, "dim": dim},
        "model": {"name": "xor-benign-grokking-net", "width": 20, "init_std": 1e-3},
        "methods": {"trainer": {"name": "xor-benign-grokking-gd", "dense_eval_steps": 2},
                    "optimizer": {"name": "sgd", "lr": lr, "momentum": 0.0}},
        "backend": {"name": "cpu", "threads": 1},
        "train": {"steps": steps, "batch_size": 20, "eval_every": 5}}).run, keep_state=True)


def test_trainer_takes_full_batch_gradient_steps():
    first, second = run(1, 0.01), run(2, 0.01)
    data = XorClusters(XorClustersConfig(n_train=20, n_val=40, dim=300)).load(seed=0)
    torch.manual_seed(0)                       # same init as the runs (backend seeds 0)
    net = TwoLayerReLUNet(300, TwoLayerReLUConfig(width=20, init_std=1e-3))
    x, y = data.train
    for expected in (first, second):
        loss = F.cross_entropy(net(x), y)      # the whole training set, every step
        (g,) = torch.autograd.grad(loss, [net.hidden.weight])
        with torch.no_grad():
            net.hidden.weight -= 0.01 * g
        torch.testing.assert_close(expected.state_dict["hidden.weight"], net.hidden.weight)
    assert [s for s, _ in second.history] == [1, 2]


def test_end_to_end_run_records_grok_metrics():
    result = run(12, 0.05, dim=2000)
    assert result.status == "finished", result.error
    assert [s for s, _ in result.history] == [1, 2, 5, 10, 12]
    assert result.metrics["grok/fit_step"] <= 12 and result.metrics["train/acc"] == 1.0
    assert not math.isnan(result.metrics["grok/val_acc_at_fit"])


def seed(fit: float = 1, val1: float = 0.52, final: float = 0.97, train: float = 1.0,
         gen: float = 60) -> dict[str, float]:
    """One seed's numbers as the trainer reports them (fit_step 201: never fitted)."""
    return {f"gd/grok/{k}": v for k, v in {
        "fit_step": fit, "val_acc_at_fit": val1 if fit <= 200 else math.nan,
        "val_acc_at_step1": val1, "generalize_step": gen, "final_val_acc": final,
        "final_train_acc": train, "min_train_acc_after_fit": train if fit <= 200 else 0.0,
    }.items()}


def status(check, *seeds: dict[str, float]) -> str:
    return decide([check(m) for m in seeds]).status


def test_overfit_first_decides_from_the_interval_over_seeds():
    assert status(overfit_first, seed(), seed(val1=0.48), seed(val1=0.5)) == "PASS"
    assert status(overfit_first, seed(val1=0.8), seed(val1=0.75), seed(val1=0.82)) == "FAIL"
    assert status(overfit_first, seed(fit=3), seed(fit=3), seed(fit=3)) == "FAIL"
    assert status(overfit_first, seed(val1=0.5), seed(val1=0.7)) == "INCONCLUSIVE"


def test_groks_benignly_decides_from_the_interval_over_seeds():
    assert status(groks_benignly, seed(), seed(final=0.95), seed(final=0.99)) == "PASS"
    assert status(groks_benignly, seed(final=0.77), seed(final=0.7), seed(final=0.75)) == "FAIL"
    assert status(groks_benignly, seed(gen=1), seed(gen=1), seed(gen=1)) == "FAIL"  # no delay
    assert status(groks_benignly, seed(final=0.77), seed(final=1.0)) == "INCONCLUSIVE"
    assert status(groks_benignly, seed(), seed(train=0.98), seed()) == "INCONCLUSIVE"


def test_guards():
    never_fit = [seed(fit=201), seed(fit=201), seed()]
    assert status(groks_benignly, *never_fit) == "VACUOUS"
    assert status(overfit_first, *never_fit) != "VACUOUS"       # not fitting fails this one
    diverged = {k: math.nan for k in seed()}
    assert status(overfit_first, seed(), diverged, seed()) == "INVALID"
    assert status(groks_benignly, seed(), diverged, seed()) == "INVALID"


@pytest.mark.slow
def test_negative_control_overfit_first_without_a_real_step_does_not_pass(tmp_path,
                                                                          monkeypatch):
    """xor-benign-grokking:overfit-first at a learning rate of 1e-7: the first step barely
    moves the tiny initial weights, so the net cannot fit its labels at step 1 and the check
    must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("xor-benign-grokking:overfit-first",
                           overrides={"gd": {"methods.optimizer.lr": 1e-7}}, seeds=3,
                           tracking_uri=store(tmp_path, monkeypatch))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_groks_benignly_without_signal_does_not_pass(tmp_path, monkeypatch):
    """xor-benign-grokking:groks-benignly with the cluster means shrunk to norm 0.01: the
    inputs carry no XOR signal, so validation accuracy cannot rise to 90% and the check must
    not PASS (smoke budget, 3 seeds)."""
    out = negative_control("xor-benign-grokking:groks-benignly",
                           overrides={"gd": {"dataset.mean_norm": 0.01}}, seeds=3,
                           tracking_uri=store(tmp_path, monkeypatch))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


def store(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) with its artifacts, both under ``tmp_path``."""
    return str(tmp_path / "runs")
