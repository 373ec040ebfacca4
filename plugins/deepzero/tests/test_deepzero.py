from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
import torch.nn.functional as F
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, execute, load_yaml, negative_control
from assay_deepzero.claims import CLAIMS, cge_near_first_order, rge_trails_cge
from assay_deepzero.method import CGE, ParallelRGE, ParallelRGEConfig, batched, cge, sgd_update
from assay_zo_bench.method import ZOSGD
from torch import nn

# --- the estimators -----------------------------------------------------------------------------


def test_cge_of_a_quadratic_by_hand():
    # L(w) = sum w^2: ((w_i + mu)^2 - w_i^2) / mu = 2 w_i + mu exactly
    w = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    loss, g = cge(lambda v: (v * v).sum(), w, mu=0.1, chunk=2)
    assert loss == pytest.approx(5.25)
    torch.testing.assert_close(g, 2 * w + 0.1)


def test_cge_matches_backprop_on_a_small_network():
    torch.manual_seed(0)
    x, y = torch.randn(16, 5, dtype=torch.float64), torch.randint(3, (16,))
    w1, w2 = torch.randn(4, 5, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)

    def fn(flat):
        a, b = flat[:20].view(4, 5), flat[20:].view(3, 4)
        return F.cross_entropy(torch.tanh(x @ a.T) @ b.T, y)

    w = torch.cat([w1.reshape(-1), w2.reshape(-1)]).requires_grad_()
    (grad,) = torch.autograd.grad(fn(w), w)
    _, g = cge(fn, w.detach(), mu=1e-6, chunk=7)
    torch.testing.assert_close(g, grad, atol=1e-5, rtol=1e-4)


def test_batched_evaluates_every_row_in_chunks():
    pts = torch.arange(10.0).view(5, 2)
    torch.testing.assert_close(batched(lambda v: v.sum(), pts, chunk=2), pts.sum(1))


def test_sgd_update_is_the_decoupled_decay_step():
    p = nn.Parameter(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    sgd_update([("p", p)], torch.tensor([1.0, 0.0, -1.0, 2.0]), lr=0.1, weight_decay=0.5)()
    want = 0.95 * torch.tensor([[1.0, 2.0], [3.0, 4.0]]) - 0.1 * torch.tensor([[1.0, 0.0],
                                                                            [-1.0, 2.0]])
    torch.testing.assert_close(p.detach(), want)


def test_rge_directions_are_zo_benchs_own():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    rge = ParallelRGE(ParallelRGEConfig(directions="zo-bench", n_queries=3))
    params, gen = rge.params(net), torch.Generator()
    seeds, coefs = [11, 22, 33], [0.5, -1.0, 2.0]
    z = rge.directions(params, seeds, gen)
    want = torch.cat([g.reshape(-1) for g in ZOSGD().estimate(params, seeds, coefs, gen)])
    torch.testing.assert_close(torch.tensor(coefs) @ z / 3, want)     # ZO-SGD's g_hat


def _digits(trainer: dict, steps: int = 3) -> dict:
    return {"dataset": {"name": "digits", "n_train": 300}, "model": {"name": "mlp", "width": 8,
                                                                      "depth": 1},
            "methods": {"trainer": trainer}, "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 32, "eval_every": steps, "seed": 3}}


def test_parallel_rge_with_zo_bench_directions_takes_zo_sgds_steps():
    """The same seeds, directions, coefficients and rule as zo-bench's sequential ZO-SGD: the
    trained weights agree (up to float rounding of the summation order)."""
    opts = {"lr": 0.05, "eps": 1e-2, "n_queries": 4}     # eps 1e-2: float32 rounding / eps small
    ours = execute(load(_digits({"name": "deepzero-rge", "directions": "zo-bench", **opts})).run,
                   keep_state=True)
    theirs = execute(load(_digits({"name": "zo-bench", **opts})).run, keep_state=True)
    assert ours.status == theirs.status == "finished", (ours.error, theirs.error)
    for k, v in theirs.state_dict.items():
        torch.testing.assert_close(ours.state_dict[k], v, atol=1e-5, rtol=1e-4)
    assert ours.metrics["zo/forward_passes"] == theirs.metrics["zo/forward_passes"] == 24


def test_cge_step_is_an_sgd_step_on_the_forward_differences():
    r = execute(load(_digits({"name": "deepzero-cge", "lr": 0.1, "mu": 1e-4}, steps=1)).run,
                keep_state=True)
    assert r.status == "finished", r.error
    n = 64 * 8 + 8 + 8 * 10 + 10
    assert r.metrics["zo/forward_passes"] == n + 1


def test_cge_trains_a_digits_mlp():
    r = execute(load(_digits({"name": "deepzero-cge", "lr": 0.3}, steps=100)).run)
    assert r.status == "finished", r.error
    assert r.metrics["val/acc"] > 0.5, r.metrics                      # chance: 0.1


class TestCGEContract(MethodContract):
    @pytest.fixture
    def component(self):
        return CGE


class TestParallelRGEContract(MethodContract):
    @pytest.fixture
    def component(self):
        return ParallelRGE


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_deepzero").joinpath(arm))).run
    assert run.train.steps == 450 and run.model["width"] == 24


def test_cge_and_rge_arms_spend_the_same_forward_passes():
    cfg = {a: load(load_yaml(resources.files("assay_deepzero").joinpath(f"configs/{a}_digits"
                                                                         ".yaml"))).run
           for a in ("cge", "rge")}
    weights = 64 * 24 + 24 + 24 * 10 + 10
    assert abs(2 * cfg["rge"].methods["trainer"]["n_queries"] - (weights + 1)) <= 1


# --- the claims' checks on made-up numbers ------------------------------------------------------

LRS = [0.03, 0.1, 0.3, 1.0, 3.0]


def _arm(arm: str, acc: float, best_lr: float = 0.3) -> dict:
    key = "methods.optimizer.lr" if arm == "fo" else "methods.trainer.lr"
    m = {f"{arm}/best/val/acc": acc}
    for n, lr in enumerate(LRS):
        m.update({f"{arm}/trials/{n}/{key}": lr,
                  f"{arm}/trials/{n}/val/acc": acc if lr == best_lr else acc - 0.1})
    return m


def _seed(cge_acc: float, fo: float = 0.96, rge: float = 0.80, **kw) -> dict:
    return {**_arm("fo", fo, **kw), **_arm("cge", cge_acc), **_arm("rge", rge)}


def test_checks_decide_from_the_interval_over_seeds():
    good = [_seed(0.95), _seed(0.94), _seed(0.955)]
    assert decide([cge_near_first_order(m) for m in good]).status == "PASS"
    assert decide([rge_trails_cge(m) for m in good]).status == "PASS"
    close = [_seed(0.95, rge=0.94), _seed(0.94, rge=0.945), _seed(0.955, rge=0.95)]
    assert decide([rge_trails_cge(m) for m in close]).status == "FAIL"
    far = [_seed(0.80), _seed(0.82), _seed(0.81)]
    assert decide([cge_near_first_order(m) for m in far]).status == "FAIL"
    mixed = [_seed(0.95), _seed(0.85)]
    assert decide([cge_near_first_order(m) for m in mixed]).status == "INCONCLUSIVE"


def test_guards():
    fo_chance = [_seed(0.95, fo=0.11)] * 3
    d = decide([cge_near_first_order(m) for m in fo_chance])
    assert d.status == "INVALID" and "fo" in d.reason
    cge_chance = [_seed(0.1)] * 3
    assert decide([rge_trails_cge(m) for m in cge_chance]).status == "INVALID"
    nan = [_seed(math.nan)] * 3
    assert decide([rge_trails_cge(m) for m in nan]).status == "INVALID"
    edge = [_seed(0.95, best_lr=3.0)] * 3
    d = decide([cge_near_first_order(m) for m in edge])
    assert d.status == "NOT-ESTABLISHED" and "fo" in d.reason
    rge_chance = [_seed(0.95, rge=0.1)] * 3          # a measured outcome: no optimum to edge
    assert decide([rge_trails_cge(m) for m in rge_chance]).status == "PASS"


@pytest.mark.slow
def test_negative_control_cge_that_takes_one_step_is_not_near_first_order(tmp_path):
    """cge-near-first-order with CGE stopped after one step while SGD takes 150: CGE stays
    near chance, so the check must not PASS (smoke budget otherwise, 3 seeds)."""
    out = negative_control("deepzero:cge-near-first-order",
                           overrides={"cge": {"train.steps": 1, "train.eval_every": 1},
                                      "fo": {"train.steps": 150}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_rge_replaced_by_cge_does_not_trail_it(tmp_path):
    """rge-trails-cge with RGE's arm running CGE (60 steps): the gain is 0, so the check must
    not PASS (smoke budget otherwise, 3 seeds)."""
    out = negative_control("deepzero:rge-trails-cge", arms={"rge": "cge"},
                           overrides={"cge": {"train.steps": 60}, "rge": {"train.steps": 60}},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
