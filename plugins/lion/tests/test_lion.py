from __future__ import annotations

import torch

from assay import load
from assay.testing import execute
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


def test_checks_pass_and_fail_on_made_up_numbers():
    good = {"lion/best/val/loss": 0.10, "adamw/best/val/loss": 0.10,
            "lion/best/methods.optimizer.lr": 3e-4, "adamw/best/methods.optimizer.lr": 3e-3}
    assert matches_adamw(good).passed and smaller_lr(good).passed
    worse = dict(good, **{"lion/best/val/loss": 0.2})
    assert not matches_adamw(worse).passed
    same_lr = dict(good, **{"lion/best/methods.optimizer.lr": 3e-3})
    assert not smaller_lr(same_lr).passed
