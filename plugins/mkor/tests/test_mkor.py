from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, execute, load_yaml, negative_control
from assay_mkor.claims import (
    PROBE,
    fewer_steps_than_sgd,
    no_more_steps_than_adamw,
    step_cost,
)
from assay_mkor.method import MKOR, LayerFactors, MKORConfig, StepsToLoss, sherman_morrison

# --- the update against the paper's rule, by hand ------------------------------------------------


def test_sherman_morrison_is_the_dense_inverse():
    gen = torch.Generator().manual_seed(0)
    b = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    inv = torch.linalg.inv(b @ b.T + torch.eye(6, dtype=torch.float64))
    v = torch.randn(6, generator=gen, dtype=torch.float64)
    want = torch.linalg.inv(torch.linalg.inv(inv) + torch.outer(v, v))
    torch.testing.assert_close(sherman_morrison(inv, v), want)


def _net() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                               torch.nn.Linear(4, 2, bias=False))


def _dense_update(j: torch.Tensor, v: torch.Tensor, gamma: float) -> torch.Tensor:
    """(M^-1 + v v^T)^-1 with M = gamma J + (1 - gamma) I: the rank-1 step, densely."""
    m = gamma * j + (1 - gamma) * torch.eye(len(j))
    return torch.linalg.inv(torch.linalg.inv(m) + torch.outer(v, v))


def test_two_mkor_steps_match_the_rule_written_out_by_hand():
    """KFAC statistics from explicit activations and output gradients, the dense rank-1
    inverse update, J_G grad J_A, norm rescaling and SGD momentum, over two steps."""
    lr, mom, gamma = 0.1, 0.9, 0.8
    net, ref = _net(), _net()
    opt_method = MKOR(MKORConfig(lr=lr, momentum=mom, gamma=gamma))
    opt_method.attach(net)
    opt = opt_method.build([{"params": list(net.parameters())}])
    j = {name: torch.eye(n) for name, n in (("a0", 4), ("g0", 4), ("a1", 4), ("g1", 2))}
    bufs: dict[str, torch.Tensor] = {}
    gen = torch.Generator().manual_seed(1)
    for step in (1, 2):
        x, y = torch.randn(5, 3, generator=gen), torch.randint(0, 2, (5,), generator=gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt_method.precondition(step)
        opt.step()
        # the same step by hand on the reference copy
        h0 = ref[0](x)
        h0.retain_grad()
        a1 = ref[1](h0)
        out = ref[2](a1)
        out.retain_grad()
        ref.zero_grad()
        torch.nn.functional.cross_entropy(out, y).backward()
        layers = {
            0: (torch.cat([x, torch.ones(5, 1)], 1).mean(0), h0.grad.sum(0),
                torch.cat([ref[0].weight.grad, ref[0].bias.grad[:, None]], 1)),
            1: (a1.detach().mean(0), out.grad.sum(0), ref[2].weight.grad.clone()),
        }
        with torch.no_grad():
            for i, (a, g, grad) in layers.items():
                j[f"a{i}"] = _dense_update(j[f"a{i}"], a, gamma)
                j[f"g{i}"] = _dense_update(j[f"g{i}"], g, gamma)
                u = j[f"g{i}"] @ grad @ j[f"a{i}"]
                u = u * grad.norm() / u.norm()
                bufs[str(i)] = u if step == 1 else mom * bufs[str(i)] + u
                if i == 0:
                    full = torch.cat([ref[0].weight, ref[0].bias[:, None]], 1) - lr * bufs["0"]
                    ref[0].weight.copy_(full[:, :3])
                    ref[0].bias.copy_(full[:, 3])
                else:
                    ref[2].weight.sub_(lr * bufs["1"])
        torch.testing.assert_close(net[0].weight, ref[0].weight, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(net[0].bias, ref[0].bias, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(net[2].weight, ref[2].weight, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(opt_method.layers[0].j_a, j["a0"], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(opt_method.layers[1].j_g, j["g1"], rtol=1e-4, atol=1e-6)
    # the preconditioner changed the direction: plain SGD would have ended elsewhere
    assert not torch.allclose(opt_method.layers[0].j_a, torch.eye(4), atol=1e-3)


def test_rescaled_update_keeps_the_gradient_norm_and_changes_its_direction():
    net = _net()
    method = MKOR(MKORConfig())
    method.attach(net)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    for step in (1, 2, 3):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        raw = torch.cat([net[0].weight.grad, net[0].bias.grad[:, None]], 1).clone()
        method.precondition(step)
    new = torch.cat([net[0].weight.grad, net[0].bias.grad[:, None]], 1)
    assert new.norm() == pytest.approx(float(raw.norm()), rel=1e-5)
    cos = float((new * raw).sum() / (new.norm() * raw.norm()))
    assert cos < 0.999


def test_inverse_factors_update_every_inv_freq_steps_only():
    net = _net()
    method = MKOR(MKORConfig(inv_freq=3))
    method.attach(net)
    seen = []
    for step in range(1, 6):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.randn(4, 3)), torch.zeros(4).long()).backward()
        before = method.layers[0].j_a.clone()
        method.precondition(step)
        seen.append(not torch.equal(before, method.layers[0].j_a))
    assert seen == [True, False, False, True, False]


def test_stabilizer_blends_both_factors_toward_identity_after_a_large_entry():
    layer = torch.nn.Linear(2, 2)
    f = LayerFactors(layer)
    f.a, f.g = torch.tensor([1e-3, 0.0, 1.0]), torch.tensor([0.0, 1e-3])
    f.j_a = torch.diag(torch.tensor([50.0, 1.0, 1.0]))     # an exploded inverse factor
    f.update(gamma=0.95, zeta=0.1, stabilize_at=2.0)
    assert f.reset and f.resets == 1
    j_a, j_g = f.j_a.clone(), f.j_g.clone()
    f.update(gamma=0.95, zeta=0.1, stabilize_at=2.0)          # the blend, not a rank-1 step
    torch.testing.assert_close(f.j_a, 0.9 * j_a + 0.1 * torch.eye(3))
    torch.testing.assert_close(f.j_g, 0.9 * j_g + 0.1 * torch.eye(2))
    assert not f.reset


def test_evaluation_without_gradients_does_not_touch_the_statistics():
    net = _net()
    method = MKOR(MKORConfig())
    method.attach(net)
    net(torch.randn(4, 3)).sum().backward()
    a = method.layers[0].a.clone()
    with torch.no_grad():
        net(torch.randn(4, 3) + 5)
    torch.testing.assert_close(method.layers[0].a, a)


# --- through assay -------------------------------------------------------------------------------


def _exp(optimizer: dict, steps: int = 300, **trainer) -> dict:
    return {"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 32, "depth": 2},
            "methods": {"trainer": {"name": "mkor-steps-to-loss", "target_loss": 0.3,
                                    "probe_every": 5, **trainer},
                        "optimizer": optimizer},
            "backend": {"name": "cpu", "threads": 1},
            "train": {"steps": steps, "batch_size": 64, "eval_every": 50}}


def test_trainer_counts_steps_to_the_target_and_stops_there():
    result = execute(load(_exp({"name": "mkor", "lr": 0.1})).run)
    assert result.status == "finished", result.error
    m = result.metrics
    steps = m["train/steps_to_target"]
    assert m["train/reached"] == 1.0 and steps % 5 == 0 and steps < 300
    assert result.history[-1][0] == steps                    # the run ended at the target
    assert m["cost/step_cpu_ms"] > 0 and m["mkor/stabilizer_resets"] >= 0


def test_a_diverging_run_finishes_as_never_reaching_the_target():
    result = execute(load(_exp({"name": "sgd", "lr": 1e12, "momentum": 0.9}, steps=100)).run)
    assert result.status == "finished", result.error
    m = result.metrics
    assert m["train/diverged"] == 1.0 and m["train/reached"] == 0.0
    assert m["train/steps_to_target"] == 101.0


class TestMKORContract(MethodContract):
    @pytest.fixture(params=[MKOR, StepsToLoss])
    def component(self, request):
        return request.param


@pytest.mark.parametrize("arm", ["mkor", "sgd", "adamw"])
def test_arm_files_share_the_design(arm):
    raw = load_yaml(resources.files("assay_mkor").joinpath(f"configs/{arm}_digits.yaml"))
    run = load(raw).run
    assert run.train.steps == 2000 and run.train.batch_size == 256
    assert run.methods["trainer"]["probe_every"] == PROBE
    assert run.methods["trainer"]["target_loss"] == 0.05
    assert len(raw["sweep"]["space"]["methods.optimizer.lr"]["choice"]) == 6


# --- the checks ----------------------------------------------------------------------------------

GRIDS = {"mkor": [1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0], "sgd": [1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0],
         "adamw": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]}


def _seed(mkor: float, sgd: float = 100.0, adamw: float = 60.0, *, edge: str = "",
          ms: tuple[float, float] = (3.0, 2.0), reached: bool = True) -> dict[str, float]:
    """One seed's numbers: each arm's best trial at its grid's 4th point (its top for the arm
    named ``edge``) with the given steps; every other trial twice as many."""
    m: dict[str, float] = {}
    for arm, steps in (("mkor", mkor), ("sgd", sgd), ("adamw", adamw)):
        grid = GRIDS[arm]
        best_lr = grid[-1] if arm == edge else grid[3]
        for n, lr in enumerate(grid):
            t = f"{arm}/trials/{n}/"
            m[t + "methods.optimizer.lr"] = lr
            m[t + "train/steps_to_target"] = steps if lr == best_lr else 2 * steps
            m[t + "train/reached"] = float(reached or arm == "mkor")
            m[t + "cost/step_cpu_ms"] = ms[0] if arm == "mkor" else ms[1]
    return m


def _status(check, seeds):
    return decide([check(m) for m in seeds]).status


def test_step_checks_decide_from_the_interval_over_seeds():
    fast = [_seed(50), _seed(54), _seed(48)]
    assert _status(fewer_steps_than_sgd, fast) == "PASS"
    assert _status(no_more_steps_than_adamw, fast) == "PASS"
    slow = [_seed(90), _seed(96), _seed(88)]
    assert _status(fewer_steps_than_sgd, slow) == "FAIL"
    assert _status(no_more_steps_than_adamw, slow) == "FAIL"
    mixed = [_seed(50), _seed(90), _seed(66)]
    assert _status(fewer_steps_than_sgd, mixed) == "INCONCLUSIVE"


def test_step_checks_guards():
    d = decide([fewer_steps_than_sgd(_seed(50, edge="sgd"))] * 3)
    assert d.status == "NOT-ESTABLISHED" and "sgd" in d.reason
    d = decide([no_more_steps_than_adamw(_seed(50, edge="mkor"))] * 3)
    assert d.status == "NOT-ESTABLISHED" and "mkor" in d.reason
    # SGD's edge does not guard the AdamW comparison
    assert _status(no_more_steps_than_adamw, [_seed(50, edge="sgd")] * 3) == "PASS"
    d = decide([fewer_steps_than_sgd(_seed(50, sgd=2001.0, reached=False))] * 3)
    assert d.status == "NOT-ESTABLISHED" and "censored" in d.reason
    empty = {k: v for k, v in _seed(50).items() if not k.startswith("sgd/")}
    assert decide([fewer_steps_than_sgd(empty)] * 3).status == "INVALID"


def test_step_cost_check():
    assert _status(step_cost, [_seed(50, ms=(3.0, 2.0)), _seed(50, ms=(3.2, 2.0)),
                               _seed(50, ms=(2.9, 2.0))]) == "PASS"
    assert _status(step_cost, [_seed(50, ms=(5.0, 2.0)), _seed(50, ms=(5.3, 2.0)),
                               _seed(50, ms=(4.9, 2.0))]) == "FAIL"
    v = step_cost(_seed(50, ms=(3.0, 2.0)))
    assert v.numbers["cost_ratio"] == pytest.approx(1.5)
    assert math.isclose(v.effects[0].value, math.log(1.5))


# --- negative controls (smoke budget, full grids, fewer steps) ----------------------------------

FULL_GRID = {"sweep.trials": 6, "train.steps": 300, "train.eval_every": 100}
AS_SGD = {"methods.optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 0.0}}


@pytest.mark.slow
def test_negative_control_mkor_replaced_by_sgd_is_not_faster_than_sgd(tmp_path):
    """MKOR's arm running SGD-momentum: a step ratio of 1 must not PASS <= 0.7."""
    out = negative_control("mkor:fewer-steps-than-sgd", arms={"mkor": "sgd"},
                           overrides={"mkor": FULL_GRID, "sgd": FULL_GRID}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_sgd_in_mkor_arm_does_not_match_adamw(tmp_path):
    """MKOR's preconditioner removed (its arm runs SGD-momentum on MKOR's grid) against
    AdamW: must not PASS."""
    out = negative_control("mkor:no-more-steps-than-adamw",
                           overrides={"mkor": {**FULL_GRID, **AS_SGD}, "adamw": FULL_GRID},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_mkor_on_a_4x_wider_model_is_not_within_2x_cost(tmp_path):
    """MKOR's arm on a 4x wider MLP (its step ~16x the work): must not PASS <= 2x."""
    out = negative_control("mkor:step-cost", overrides={"mkor": {"model.width": 1024}},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
