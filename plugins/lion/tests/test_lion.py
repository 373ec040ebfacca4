from __future__ import annotations

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_lion.claims import matches_adamw, smaller_lr
from assay_lion.method import Lion, LionConfig


def reference_lion_step(w, m, g, lr, b1, b2, wd):
    """Algorithm 2 of arXiv:2302.06675, written out by hand."""
    c = b1 * m + (1 - b1) * g
    w_new = w - lr * (torch.sign(c) + wd * w)
    m_new = b2 * m + (1 - b2) * g
    return w_new, m_new


def test_update_matches_paper_rule_over_three_steps():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))
    cfg = LionConfig(lr=0.1, beta1=0.9, beta2=0.99, weight_decay=0.5)
    opt = Lion(cfg).build([{"params": [w]}])
    w_ref, m_ref = w.detach().clone(), torch.zeros(3)
    for g in (torch.tensor([0.3, -0.2, 0.0]), torch.tensor([-1.0, 0.1, 0.4]),
              torch.tensor([0.05, -0.05, -3.0])):
        w.grad = g.clone()
        opt.step()
        w_ref, m_ref = reference_lion_step(w_ref, m_ref, g, 0.1, 0.9, 0.99, 0.5)
        torch.testing.assert_close(w.detach(), w_ref)


def test_first_step_hand_computed():
    # m0 = 0 so c = 0.1 * g; sign(c) = sign(g); w1 = w0 - lr * (sign(g) + wd * w0)
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.0]))
    opt = Lion(LionConfig(lr=0.01, weight_decay=0.1)).build([{"params": [w]}])
    w.grad = torch.tensor([3.0, 0.5, -0.25])
    opt.step()
    expected = torch.tensor([1.0 - 0.01 * (1 + 0.1), -2.0 - 0.01 * (1 - 0.2), 0.01])
    torch.testing.assert_close(w.detach(), expected)


def test_lr_multipliers_from_a_parameterization_are_honoured():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = Lion(LionConfig(lr=0.1)).build([{"params": [a]}, {"params": [b], "lr_mult": 0.5}])
    a.grad, b.grad = torch.ones(2), torch.ones(2)
    opt.step()
    torch.testing.assert_close(1 - a.detach(), 2 * (1 - b.detach()))


def test_digits_mlp_trained_with_lion_reaches_loss_bound():
    loaded = load({"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 64},
                   "methods": {"optimizer": {"name": "lion", "lr": 1e-3}},
                   "backend": {"name": "cpu"},
                   "train": {"steps": 200, "batch_size": 64, "eval_every": 100}})
    result = execute(loaded.run)
    assert result.status == "finished", result.error
    assert result.metrics["val/loss"] < 0.35, result.metrics


def _seed(lion_loss: float, lion_lr: float, adamw_lr: float = 3e-3) -> dict[str, float]:
    """One seed's numbers: both arms' grids, with the best trial at the given learning rate."""
    m = {"lion/best/val/loss": lion_loss, "adamw/best/val/loss": 0.10,
         "lion/best/methods.optimizer.lr": lion_lr, "adamw/best/methods.optimizer.lr": adamw_lr}
    for arm, best_lr, best_loss in (("lion", lion_lr, lion_loss), ("adamw", adamw_lr, 0.10)):
        for n, lr in enumerate([1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]):
            m[f"{arm}/trials/{n}/methods.optimizer.lr"] = lr
            m[f"{arm}/trials/{n}/val/loss"] = best_loss if lr == best_lr else best_loss + 0.5
    return m


def test_checks_decide_from_the_interval_over_seeds():
    good = [_seed(0.100, 3e-4), _seed(0.101, 3e-4), _seed(0.099, 3e-4)]
    assert decide([matches_adamw(m) for m in good]).status == "PASS"
    assert decide([smaller_lr(m) for m in good]).status == "PASS"
    worse = [_seed(0.20, 3e-4), _seed(0.21, 3e-4), _seed(0.19, 3e-4)]
    assert decide([matches_adamw(m) for m in worse]).status == "FAIL"
    same_lr = [_seed(0.1, 3e-3)] * 3
    assert decide([smaller_lr(m) for m in same_lr]).status == "FAIL"
    mixed = [_seed(0.10, 3e-4), _seed(0.20, 3e-4)]
    assert decide([matches_adamw(m) for m in mixed]).status == "INCONCLUSIVE"


def test_an_optimum_at_the_grid_edge_is_not_established():
    edge = [_seed(0.1, 3e-4, adamw_lr=1e-1)] * 3
    d = decide([smaller_lr(m) for m in edge])
    assert d.status == "NOT-ESTABLISHED" and "adamw" in d.reason


@pytest.mark.slow
def test_negative_control_lion_replaced_by_adamw_does_not_pass(tmp_path):
    """lion:smaller-lr with Lion's arm running AdamW: the learning-rate ratio is 1, so the
    check must not PASS (at smoke budget, 3 seeds)."""
    out = negative_control("lion:smaller-lr", arms={"lion": "adamw"}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
