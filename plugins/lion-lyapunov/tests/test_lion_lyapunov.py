from __future__ import annotations

import pytest
import torch

from assay import load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_lion_lyapunov._reference import box_optimum
from assay_lion_lyapunov.claims import constrained_optimum, enters_box, enters_l2_ball
from assay_lion_lyapunov.method import (
    ConstraintProbe, LinearNet, LionK, LionKConfig, ProbeConfig, _only_linear,
)

GRADS = (torch.tensor([0.3, -0.2, 0.0]), torch.tensor([-1.0, 0.1, 0.4]),
         torch.tensor([0.05, -0.05, -3.0]))


def reference_lion_k_step(x, m, g, lr, b1, b2, lam, grad_k):
    """arXiv:2310.05898's Lion-K, written out by hand (momentum of +g; sign convention of
    Lion's Algorithm 2)."""
    c = b1 * m + (1 - b1) * g
    return x - lr * (grad_k(c) + lam * x), b2 * m + (1 - b2) * g


def _l2_direction(c):
    return c / c.norm() if float(c.norm()) > 0 else torch.zeros_like(c)


@pytest.mark.parametrize("kappa,grad_k", [("l1", torch.sign), ("l2", _l2_direction)])
def test_update_matches_lion_k_rule_over_three_steps(kappa, grad_k):
    x = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))
    opt = LionK(LionKConfig(lr=0.1, beta1=0.9, beta2=0.99, weight_decay=0.5,
                            kappa=kappa)).build([{"params": [x]}])
    x_ref, m = x.detach().clone(), torch.zeros(3)
    for g in GRADS:
        x.grad = g.clone()
        opt.step()
        x_ref, m = reference_lion_k_step(x_ref, m, g, 0.1, 0.9, 0.99, 0.5, grad_k)
        torch.testing.assert_close(x.detach(), x_ref)


def test_l1_case_is_the_lion_plugins_optimizer():
    from pytorch_optimizer import Lion

    x = torch.nn.Parameter(torch.zeros(2))
    assert isinstance(LionK(LionKConfig(kappa="l1")).build([{"params": [x]}]), Lion)


@pytest.mark.parametrize("kappa", ["l1", "l2"])
def test_excess_over_the_constraint_decays_at_least_geometrically(kappa):
    # |x_{t+1}| <= (1 - lr lam) |x_t| + lr, so the excess over 1/lam shrinks by (1 - lr lam)
    # per step whatever the gradients; inside, the set is never left
    torch.manual_seed(0)
    lr, lam = 0.01, 2.0
    size = (1, 40) if kappa == "l1" else (5, 8)
    norm = (lambda t: float(t.detach().abs().max())) if kappa == "l1" else \
        (lambda t: float(t.detach().norm()))
    x = torch.nn.Parameter(torch.randn(size))
    with torch.no_grad():
        x.mul_(5 / lam / norm(x))
    opt = LionK(LionKConfig(lr=lr, weight_decay=lam, kappa=kappa)).build([{"params": [x]}])
    for t in range(1, 600):
        x.grad = torch.randn(size) * 3
        opt.step()
        assert norm(x) <= 1 / lam + (4 / lam) * (1 - lr * lam) ** t + 1e-5
    assert norm(x) <= 1 / lam * (1 + 1e-5)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_probe_starts_outside_at_the_requested_norm(norm):
    torch.manual_seed(0)
    net = LinearNet(6, 3, bias=True)
    probe = ConstraintProbe(ProbeConfig(bound=0.5, norm=norm, init_scale=5.0))
    probe.apply(net, None)  # type: ignore[arg-type]
    assert probe.start == pytest.approx(2.5)
    for p in net.parameters():
        size = float(p.detach().abs().max()) if norm == "linf" else float(p.detach().norm())
        assert size == pytest.approx(2.5)
    assert _only_linear(net) is net.readout
    assert _only_linear(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))) is None


def test_box_optimum_agrees_with_projected_gradient_descent_by_hand():
    torch.manual_seed(0)
    x, y = torch.randn(40, 3), torch.randint(0, 3, (40,))
    layer = torch.nn.Linear(3, 3)
    best = box_optimum(x, y, layer, 0.2)
    w, b = torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    for _ in range(3000):                       # smooth convex problem: PGD with step 0.5
        w.requires_grad_(True), b.requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(x.double() @ w.T + b, y)
        gw, gb = torch.autograd.grad(loss, (w, b))
        w, b = (w - 0.5 * gw).clamp(-0.2, 0.2).detach(), (b - 0.5 * gb).clamp(-0.2, 0.2).detach()
    assert best == pytest.approx(float(loss.detach()), abs=1e-6)
    assert box_optimum(x, y, layer, float("inf")) < best


def test_short_run_through_assay_reports_the_constraint():
    loaded = load({"dataset": {"name": "digits", "n_train": 300},
                   "model": {"name": "lion-lyapunov-linear"},
                   "methods": {"parameterization": {"name": "lion-lyapunov-probe", "bound": 0.1,
                                                    "init_scale": 5.0},
                               "optimizer": {"name": "lion-lyapunov", "lr": 0.01,
                                             "weight_decay": 10.0},
                               "schedule": {"name": "cosine", "min_factor": 0.0}},
                   "backend": {"name": "cpu"},
                   "train": {"steps": 200, "batch_size": 300, "eval_every": 100}})
    result = execute(loaded.run)
    assert result.status == "finished", result.error
    m = result.metrics
    assert m["weights/start"] == pytest.approx(0.5)
    # relative excess left: 4 exp(-lam * sum(lr)) = 4 exp(-10 * 1.0) ~ 2e-4
    assert m["weights/max_abs"] <= 0.1 * 1.001 and m["weights/late_max"] <= 0.1 * 1.001
    assert m["ref/unconstrained_loss"] < m["ref/optimum_loss"] <= m["ref/train_loss"] + 1e-4


def _box_metrics(seed: int = 0, **changes: float) -> dict[str, float]:
    """One seed's probe numbers, every arm inside its box at the end and near the optimum
    (with a little seed-to-seed spread)."""
    jitter = 1e-4 * (seed - 1)
    m = {}
    for arm, lam in (("lam1", 1.0), ("lam3", 3.0), ("lam10", 10.0)):
        m.update({f"{arm}/weights/bound": 1 / lam, f"{arm}/weights/start": 5 / lam,
                  f"{arm}/weights/max_abs": (1 + jitter) / lam,
                  f"{arm}/weights/late_max": (1 + 2 * jitter) / lam,
                  f"{arm}/ref/train_loss": (0.5 + jitter) * lam ** 0.1,
                  f"{arm}/ref/optimum_loss": 0.499 * lam ** 0.1,
                  f"{arm}/ref/unconstrained_loss": 0.01})
    m.update(changes)
    return m


def _ball(seed: int = 0, **changes: float) -> dict[str, float]:
    jitter = 1e-4 * (seed - 1)
    return {"l2/weights/bound": 1.0, "l2/weights/start": 5.0, "l2/weights/max_l2": 1 + jitter,
            "l2/weights/late_max": 1 + jitter, **changes}


def _decide(check, make, changes_per_seed):
    return decide([check(make(s, **c)) for s, c in enumerate(changes_per_seed)])


CHECKS = [(enters_box, _box_metrics), (constrained_optimum, _box_metrics),
          (enters_l2_ball, _ball)]


@pytest.mark.parametrize("check,make", CHECKS, ids=lambda c: getattr(c, "__name__", ""))
def test_checks_pass_on_an_interval_inside_the_tolerance(check, make):
    assert _decide(check, make, [{}, {}, {}]).status == "PASS"


def test_checks_fail_when_the_interval_is_outside():
    outside = [{"lam3/weights/max_abs": x} for x in (0.35, 0.36, 0.355)]
    d = _decide(enters_box, _box_metrics, outside)
    assert d.status == "FAIL" and {e.name for e in d.effects if e.status == "FAIL"} == \
        {"lam3_end_ratio"}
    late = [{"lam1/weights/late_max": x} for x in (1.2, 1.25, 1.22)]
    assert _decide(enters_box, _box_metrics, late).status == "FAIL"
    # the recorded lambda = 1 outcome: 1.51-1.55% above the box optimum in every seed
    above = [{"lam1/ref/train_loss": 0.499 * (1 + g)} for g in (0.0151, 0.0155, 0.0153)]
    assert _decide(constrained_optimum, _box_metrics, above).status == "FAIL"
    below = [{"lam1/ref/train_loss": 0.499 * (1 - g)} for g in (0.05, 0.06, 0.055)]
    assert _decide(constrained_optimum, _box_metrics, below).status == "FAIL"
    assert _decide(enters_l2_ball, _ball, [{"l2/weights/max_l2": x}
                                           for x in (1.3, 1.32, 1.31)]).status == "FAIL"


def test_checks_are_inconclusive_when_the_interval_straddles():
    spread = [{"lam1/ref/train_loss": 0.499 * (1 + g)} for g in (0.002, 0.018, 0.010)]
    assert _decide(constrained_optimum, _box_metrics, spread).status == "INCONCLUSIVE"
    spread = [{"l2/weights/max_l2": x} for x in (0.99, 1.03, 1.0)]
    assert _decide(enters_l2_ball, _ball, spread).status == "INCONCLUSIVE"


def test_a_run_that_did_not_start_outside_is_vacuous():
    inside = [{}, {"lam10/weights/start": 0.1}, {}]
    d = _decide(enters_box, _box_metrics, inside)
    assert d.status == "VACUOUS" and "seed 1" in d.reason and "lam10" in d.reason
    assert _decide(enters_l2_ball, _ball, [{"l2/weights/start": 1.0}] * 3).status == "VACUOUS"


def test_a_box_that_does_not_bind_is_vacuous():
    loose = [{"lam10/ref/unconstrained_loss": 0.7}] * 3      # above the box optimum
    d = _decide(constrained_optimum, _box_metrics, loose)
    assert d.status == "VACUOUS" and "lam10" in d.reason


# Lion without weight decay: nothing pulls the weights into the box or the ball, and the run
# heads for the unconstrained optimum, so no check may PASS (smoke budget, 3 seeds).
NO_DECAY = {"methods.optimizer.weight_decay": 0.0}
BOX = ("lam1", "lam3", "lam10")


@pytest.mark.slow
@pytest.mark.parametrize("claim,control", [
    # enters-box reads no reference loss: the probe's L-BFGS-B solves are switched off
    ("lion-lyapunov:enters-box", {"overrides": {
        a: {**NO_DECAY, "methods.parameterization.reference": False} for a in BOX}}),
    # the box optimum at lambda = 1 takes L-BFGS-B about a minute per seed: every arm runs the
    # lambda = 10 problem instead (one run per seed, reused by the three arm names)
    ("lion-lyapunov:constrained-optimum", {"arms": {"lam1": "lam10", "lam3": "lam10"},
                                           "overrides": {a: NO_DECAY for a in BOX}}),
    ("lion-lyapunov:l2-ball", {"overrides": {"l2": NO_DECAY}})],
    ids=["enters-box", "constrained-optimum", "l2-ball"])
def test_negative_control_without_weight_decay_does_not_pass(claim, control, tmp_path):
    out = negative_control(claim, seeds=3, tracking_uri=str(tmp_path / "runs"), **control)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
