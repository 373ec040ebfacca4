from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
import torch.nn.functional as F
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, execute, load_yaml, negative_control
from assay_dco_passn_loss.claims import CLAIMS, ce_pass_at_n_falls, dco_keeps_pass_at_n
from assay_dco_passn_loss.method import CoverageLoss, coverage_loss, pass_at_n

# --- the loss against the paper's formula, by hand ---------------------------------------------


def test_loss_is_minus_log_coverage_on_a_hand_computed_example():
    # logits (log 3, 0, 0): p(y=0) = 3/5, p(y=1) = 1/5. With N = 2:
    # row 0: -log(1 - (2/5)^2) = -log(21/25); row 1: -log(1 - (4/5)^2) = -log(9/25)
    logits = torch.tensor([[math.log(3.0), 0.0, 0.0], [math.log(3.0), 0.0, 0.0]],
                          dtype=torch.float64)
    y = torch.tensor([0, 1])
    want = -(math.log(21 / 25) + math.log(9 / 25)) / 2
    assert coverage_loss(logits, y, 2).item() == pytest.approx(want, rel=1e-12)
    assert pass_at_n(logits, y, 2) == pytest.approx((21 / 25 + 9 / 25) / 2, rel=1e-12)


def test_n_equal_one_is_cross_entropy():
    torch.manual_seed(0)
    logits, y = 4 * torch.randn(32, 10), torch.randint(10, (32,))
    torch.testing.assert_close(coverage_loss(logits, y, 1), F.cross_entropy(logits, y))


def test_gradient_is_cross_entropy_scaled_by_the_papers_factor():
    # dL_N/dz = F(N, p) * dCE/dz with F = N p (1-p)^(N-1) / (1 - (1-p)^N), per example
    torch.manual_seed(1)
    n = 16
    logits = (3 * torch.randn(6, 5, dtype=torch.float64)).requires_grad_()
    y = torch.randint(5, (6,))
    (g_dco,) = torch.autograd.grad(coverage_loss(logits, y, n) * 6, logits)
    (g_ce,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), logits)
    p = F.softmax(logits.detach(), -1).gather(1, y[:, None])
    factor = n * p * (1 - p) ** (n - 1) / (1 - (1 - p) ** n)
    torch.testing.assert_close(g_dco, factor * g_ce)
    assert float(factor.max()) <= n and float(factor.min()) >= 0


def test_confident_examples_stop_pushing_and_extremes_stay_finite():
    logits = torch.tensor([[60.0, 0.0, 0.0], [-200.0, 0.0, 0.0]], requires_grad=True)
    y = torch.tensor([0, 0])
    loss = coverage_loss(logits, y, 16)
    (grad,) = torch.autograd.grad(loss, logits)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    assert grad[0].abs().max() < 1e-20                 # p ~ 1: no push at all
    # p ~ e^-200: the loss is -log(16 p), its gradient cross-entropy's
    assert loss.item() == pytest.approx((200 + math.log(2) - math.log(16)) / 2, rel=1e-5)


# --- through assay ------------------------------------------------------------------------------


def _exp(n: int, steps: int = 60) -> dict:
    return {"dataset": {"name": "digits", "label_noise": 0.3},
            "model": {"name": "mlp", "width": 32, "depth": 1},
            "methods": {"loss": {"name": "dco-passn-loss", "n": n, "eval_n": 16},
                        "optimizer": {"name": "adamw", "lr": 3e-3}},
            "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 64, "eval_every": 20}}


def test_a_run_records_its_pass_at_n_curve():
    result = execute(load(_exp(16)).run)
    assert result.status == "finished", result.error
    m = result.metrics
    assert m["passn/n"] == 16 and m["passn/peak_step"] in (20, 40, 60)
    assert 0.0 < m["passn/final"] <= m["passn/peak"] <= 1.0
    assert m["passn/final"] > 0.5                     # 16 draws from a trained softmax


class TestCoverageLossContract(MethodContract):
    @pytest.fixture
    def component(self):
        return CoverageLoss


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    raw = load_yaml(resources.files("assay_dco_passn_loss").joinpath(arm))
    assert load(raw).run.methods["loss"]["name"] == "dco-passn-loss"


# --- the claims' checks on made-up numbers ------------------------------------------------------


def _arm(arm: str, peak: float, final: float, acc: float = 0.8) -> dict[str, float]:
    return {f"{arm}/passn/peak": peak, f"{arm}/passn/final": final,
            f"{arm}/passn/peak_step": 500.0, f"{arm}/val/acc": acc}


def _seed(ce_final: float, dco_final: float = 0.95, dco_peak: float = 0.955,
          ce_acc: float = 0.8) -> dict[str, float]:
    return {**_arm("ce", 0.97, ce_final, ce_acc), **_arm("dco", dco_peak, dco_final)}


def test_checks_decide_from_the_interval_over_seeds():
    falls = [_seed(0.85), _seed(0.86), _seed(0.84)]            # ce drops ~12 pts
    assert decide([ce_pass_at_n_falls(m) for m in falls]).status == "PASS"
    assert decide([dco_keeps_pass_at_n(m) for m in falls]).status == "PASS"
    flat = [_seed(0.95), _seed(0.955), _seed(0.945)]           # ce drops ~2 pts: dco no better
    assert decide([ce_pass_at_n_falls(m) for m in flat]).status == "FAIL"
    assert decide([dco_keeps_pass_at_n(m) for m in flat]).status == "FAIL"
    dco_falls = [_seed(0.80, 0.90, 0.96)] * 3                  # dco also lost 6 pts
    assert decide([dco_keeps_pass_at_n(m) for m in dco_falls]).status == "FAIL"
    mixed = [_seed(0.85), _seed(0.96)]
    assert decide([ce_pass_at_n_falls(m) for m in mixed]).status == "INCONCLUSIVE"


def test_guards():
    at_chance = [_seed(0.85, ce_acc=0.11)] * 3
    assert decide([ce_pass_at_n_falls(m) for m in at_chance]).status == "INVALID"
    assert decide([dco_keeps_pass_at_n(m) for m in at_chance]).status == "INVALID"
    diverged = [{**_seed(0.85), "ce/val/acc": math.nan}] * 3
    assert decide([dco_keeps_pass_at_n(m) for m in diverged]).status == "INVALID"
    no_curve = {k: v for k, v in _seed(0.85).items() if not k.startswith("dco/passn")}
    assert decide([dco_keeps_pass_at_n(no_curve)] * 3).status == "INVALID"
    never_fell = [_seed(0.9695)] * 3                           # ce lost 0.05 pts
    d = decide([dco_keeps_pass_at_n(m) for m in never_fell])
    assert d.status == "VACUOUS" and "rescue" in d.reason


@pytest.mark.slow
def test_negative_control_dco_replaced_by_cross_entropy_does_not_pass(tmp_path):
    """dco-keeps-pass-at-n with the DCO arm running cross-entropy: the gain is 0, so the check
    must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("dco-passn-loss:dco-keeps-pass-at-n", arms={"dco": "ce"}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_cross_entropy_arm_limited_in_confidence_does_not_pass(tmp_path):
    """ce-pass-at-n-falls with the CE arm trained by the N = 16 coverage loss (the
    overconfidence removed): the check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("dco-passn-loss:ce-pass-at-n-falls",
                           overrides={"ce": {"methods.loss.n": 16}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
