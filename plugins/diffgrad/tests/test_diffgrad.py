from __future__ import annotations

import math

import pytest
import torch

from assay import load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_diffgrad.claims import LR, TOLERANCE, matches_adam
from assay_diffgrad.method import DiffGrad, DiffGradConfig


def reference_diffgrad_step(w, m, v, g_prev, g, t, lr, b1, b2, eps):
    """arXiv:1909.11015, Sec. 3, written out by hand (eps on the raw second moment, as in the
    authors' code: w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * xi * m / (sqrt(v) + eps))."""
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    xi = 1 / (1 + torch.exp(-(g_prev - g).abs()))
    step = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    w = w - step * xi * m / (v.sqrt() + eps)
    return w, m, v


GRADS = (torch.tensor([0.3, -0.2, 0.0, 2.0]), torch.tensor([-1.0, -0.2, 0.4, 2.5]),
         torch.tensor([0.05, 0.7, -3.0, 2.5]))


def test_update_matches_paper_rule_over_three_steps():
    w = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0, 0.0]))
    cfg = DiffGradConfig(lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8)
    opt = DiffGrad(cfg).build([{"params": [w]}])
    w_ref, m, v, g_prev = w.detach().clone(), torch.zeros(4), torch.zeros(4), torch.zeros(4)
    for t, g in enumerate(GRADS, start=1):
        w.grad = g.clone()
        opt.step()
        w_ref, m, v = reference_diffgrad_step(w_ref, m, v, g_prev, g, t, 0.1, 0.9, 0.99, 1e-8)
        g_prev = g
        torch.testing.assert_close(w.detach(), w_ref)


def test_friction_shrinks_the_adam_step_where_the_gradient_repeats():
    # same gradient twice: Adam's 2nd step on a coordinate equals its 1st; diffGrad's is
    # sigmoid(0) = 0.5 of Adam's (the friction is minimal), after sigmoid(|g|) on step 1
    def two_steps(name):
        w = torch.nn.Parameter(torch.zeros(2))
        if name == "adam":
            opt = torch.optim.Adam([w], lr=0.01, betas=(0.0, 0.0), eps=1e-12)
        else:
            opt = DiffGrad(DiffGradConfig(lr=0.01, beta1=0.0, beta2=0.0, eps=1e-12)).build(
                [{"params": [w]}])
        deltas = []
        for _ in range(2):
            before = w.detach().clone()
            w.grad = torch.tensor([1.0, -4.0])
            opt.step()
            deltas.append(w.detach() - before)
        return deltas

    adam, diff = two_steps("adam"), two_steps("diffgrad")
    xi1 = torch.sigmoid(torch.tensor([1.0, 4.0]))
    torch.testing.assert_close(diff[0], xi1 * adam[0])
    torch.testing.assert_close(diff[1], 0.5 * adam[1])


def test_lr_multipliers_and_decoupled_decay():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = DiffGrad(DiffGradConfig(lr=0.1, weight_decay=0.5)).build(
        [{"params": [a]}, {"params": [b], "lr_mult": 0.5, "wd_mult": 0.0}])
    a.grad, b.grad = torch.zeros(2), torch.zeros(2)   # zero gradient: only decay moves a
    opt.step()
    torch.testing.assert_close(a.detach(), torch.full((2,), 1 - 0.1 * 0.5))
    torch.testing.assert_close(b.detach(), torch.ones(2))


def test_digits_mlp_trained_with_diffgrad_reaches_loss_bound():
    loaded = load({"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 64},
                   "methods": {"optimizer": {"name": "diffgrad", "lr": 3e-3}},
                   "backend": {"name": "cpu"},
                   "train": {"steps": 200, "batch_size": 64, "eval_every": 100}})
    result = execute(loaded.run)
    assert result.status == "finished", result.error
    assert result.metrics["val/loss"] < 0.35, result.metrics


GRID = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]


def _seed(diff_acc: float, adam_acc: float = 0.95, diff_lr: float = 1e-2,
          adam_lr: float = 1e-2) -> dict[str, float]:
    """One seed's numbers: both arms' grids, the best trial at the given learning rate."""
    m = {}
    for arm, best_lr, best_acc in (("diffgrad", diff_lr, diff_acc), ("adam", adam_lr, adam_acc)):
        m[f"{arm}/best/val/acc"], m[f"{arm}/best/{LR}"] = best_acc, best_lr
        for n, lr in enumerate(GRID):
            m[f"{arm}/trials/{n}/{LR}"] = lr
            m[f"{arm}/trials/{n}/val/acc"] = best_acc if lr == best_lr else best_acc - 0.05
    return m


def test_check_decides_from_the_interval_over_seeds():
    tie = [_seed(0.950), _seed(0.952), _seed(0.951)]
    assert decide([matches_adam(m) for m in tie]).status == "PASS"
    worse = [_seed(0.92), _seed(0.93), _seed(0.925)]
    d = decide([matches_adam(m) for m in worse])
    assert d.status == "FAIL" and d.effects[0].mean < -TOLERANCE
    mixed = [_seed(0.97), _seed(0.92), _seed(0.955)]   # +2.0, -3.0, +0.5 points
    assert decide([matches_adam(m) for m in mixed]).status == "INCONCLUSIVE"


def test_adam_at_chance_is_invalid_not_averaged():
    seeds = [_seed(0.95), _seed(0.95), _seed(0.95, adam_acc=0.078)]
    d = decide([matches_adam(m) for m in seeds])
    assert d.status == "INVALID" and "seed 2" in d.reason and "adam" in d.reason


def test_best_lr_at_the_grid_edge_is_not_established():
    seeds = [_seed(0.95, adam_lr=1e-1)] * 3
    d = decide([matches_adam(m) for m in seeds])
    assert d.status == "NOT-ESTABLISHED" and "adam" in d.reason
    # diffGrad at chance at every rate has no optimum to be censored: a plain FAIL
    stuck = [_seed(0.10, diff_lr=1e-1), _seed(0.09, diff_lr=1e-3), _seed(0.11, diff_lr=1e-1)]
    assert decide([matches_adam(m) for m in stuck]).status == "FAIL"


@pytest.mark.slow
def test_negative_control_diffgrad_cut_to_one_step_does_not_pass(tmp_path):
    """diffgrad:matches-adam with diffGrad trained for one step: it stays at chance while Adam
    learns, so the check must not PASS (smoke budget, 3 seeds). Replacing diffGrad by Adam
    would pass a "matches" claim. The CNN sits on its initial plateau for ~100 steps, so Adam
    gets 200 steps on its whole grid here (at the smoke budget's 20 it is at chance: INVALID)."""
    out = negative_control("diffgrad:matches-adam", overrides={
        "diffgrad": {"train.steps": 1, "train.eval_every": 1},
        "adam": {"train.steps": 200, "train.eval_every": 100, "sweep.trials": 5}},
        seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
