from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, execute, negative_control
from assay_gradsign.claims import ranks_accuracy
from assay_gradsign.method import GradSignProbe, batch_proxies, gradsign, proxies


class TestProbeContract(MethodContract):
    @pytest.fixture
    def component(self):
        return GradSignProbe


def tiny():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    x, y = torch.randn(7, 5), torch.randint(0, 3, (7,))
    return model, x, y


def test_gradsign_by_hand_from_one_example_at_a_time():
    model, x, y = tiny()
    signs = None
    for i in range(len(x)):                       # every example's gradient, one by one
        grads = torch.autograd.grad(F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]),
                                    list(model.parameters()))
        s = torch.cat([g.sign().flatten() for g in grads])
        signs = s if signs is None else signs + s
    expected = float(signs.abs().sum())
    got = proxies(model, F.cross_entropy, x, y)["zc/gradsign"]
    assert got == pytest.approx(expected)
    # all examples agree -> the parameter count; perfect disagreement -> 0
    same = {"w": torch.ones(4, 2, 3)}
    assert gradsign(same) == 4 * 6
    assert gradsign({"w": torch.tensor([[1.0, -2.0], [-1.0, 2.0]])}) == 0


def test_grad_norm_and_snip_by_hand():
    model, x, y = tiny()
    loss = F.cross_entropy(model(x), y)
    out = batch_proxies(model, loss)
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), list(model.parameters()))
    params = list(model.parameters())
    assert out["zc/grad_norm"] == pytest.approx(float(sum(g.norm() for g in grads)))
    assert out["zc/snip"] == pytest.approx(float(sum((p.detach() * g).abs().sum()
                                                     for p, g in zip(params, grads))))
    assert out["zc/params"] == 5 * 4 + 4 + 4 * 3 + 3


def test_a_run_records_the_proxies_and_trains():
    result = execute(load({
        "dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 16, "depth": 1},
        "methods": {"trainer": {"name": "gradsign-probe", "probe_batch": 32},
                    "optimizer": {"name": "adamw", "lr": 3e-3}},
        "backend": {"name": "cpu", "threads": 1},
        "train": {"steps": 60, "batch_size": 64, "eval_every": 30}}).run)
    assert result.status == "finished", result.error
    m = result.metrics
    assert 0 < m["zc/gradsign"] <= 32 * m["zc/params"]          # |sum of 32 signs| <= 32
    assert m["zc/log_params"] == pytest.approx(math.log10(m["zc/params"]))
    assert m["val/acc"] > 0.5 and [s for s, _ in result.history] == [30, 60]


def seed(rho_sign=1.0, rho_norm=-1.0, n=12, acc_const=False):
    """n trials whose accuracy ranks like GradSign (rho_sign 1) or against it (-1)."""
    m = {}
    for i in range(n):
        acc = 0.9 if acc_const else 0.5 + 0.03 * i
        vals = {"zc/gradsign": rho_sign * i, "zc/grad_norm": rho_norm * i,
                "zc/snip": -float(i), "zc/params": float(i % 3), "val/acc": acc}
        m.update({f"search/trials/{i}/{k}": v for k, v in vals.items()})
    return m


def status(*seeds):
    return decide([ranks_accuracy(s) for s in seeds]).status


def test_check_decides_from_the_interval_over_seeds():
    assert status(seed(), seed(), seed()) == "PASS"
    assert status(seed(-1.0), seed(-1.0), seed(-1.0)) == "FAIL"
    assert status(seed(rho_norm=1.0), seed(rho_norm=1.0), seed(rho_norm=1.0)) == "PASS"  # tie
    assert status(seed(), seed(-1.0)) == "INCONCLUSIVE"


def test_guards():
    assert status(seed(), seed(n=5), seed()) == "INVALID"
    assert status(seed(acc_const=True), seed(), seed()) == "VACUOUS"


@pytest.mark.slow
def test_negative_control_a_random_score_does_not_pass(tmp_path):
    """gradsign:ranks-accuracy with GradSign replaced by a random number (12 trials of 100
    steps, 3 seeds): it cannot rank the architectures, so the check must not PASS."""
    out = negative_control("gradsign:ranks-accuracy", seeds=3,
                           tracking_uri=str(tmp_path / "runs"),
                           overrides={"search": {"methods.trainer.score": "random",
                                                 "sweep.trials": 12, "train.steps": 100,
                                                 "train.eval_every": 100}})
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
