from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build_context, execute, load_yaml, negative_control
from assay_gb_nn.claims import CLAIMS, matches_adam, switches_off_gracefully
from assay_gb_nn.method import (
    BoostedNet,
    BoostedNetConfig,
    constant_fit,
    newton_step,
    pseudo_residuals,
    score,
    score_without,
    split_output,
)


def _exp(trainer: dict, width: int = 8, steps: int = 20, depth: int = 1,
         dataset: dict | None = None) -> dict:
    return {"dataset": dataset or {"name": "tabular", "table": "wine"},
            "model": {"name": "mlp", "width": width, "depth": depth},
            "methods": {"trainer": {"name": "gb-nn", **trainer},
                        "optimizer": {"name": "adamw", "lr": 1e-2, "weight_decay": 0.1}},
            "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 32, "eval_every": 5}}


def _ctx(exp: dict):
    ctx = build_context(load(exp).run)
    ctx.optimizer = ctx.build("method", exp["methods"]["optimizer"]).build(ctx.param_groups)
    return ctx


# --- the boosting rule, by hand -----------------------------------------------------------------


def test_pseudo_residuals_and_newton_step_by_hand():
    ctx = _ctx(_exp({"stages": 2}))
    prev = torch.tensor([[0.0, 1.0, -1.0], [2.0, 0.0, 0.0]])
    y = torch.tensor([1, 0])
    p = prev.softmax(-1)
    r = torch.eye(3)[y] - p
    torch.testing.assert_close(pseudo_residuals(ctx, prev, y), r)
    part = torch.tensor([[0.5, -0.2, 0.1], [0.3, 0.0, -0.4]])
    want = float((part * r).sum() / (part ** 2 * p * (1 - p)).sum())
    assert newton_step(ctx, prev, part, y) == pytest.approx(want)


def test_the_constant_start_matches_the_class_frequencies():
    ctx = _ctx(_exp({"stages": 2}))
    c = constant_fit(ctx)
    freq = torch.bincount(ctx.data.train[1], minlength=3).float() / len(ctx.data.train[1])
    torch.testing.assert_close(c.softmax(-1), freq)          # the CE-optimal constant


class Spy(BoostedNet):
    """Keeps the weights before and after every stage, and each stage's rho."""

    def boost(self, ctx, hidden, readout):
        self.snaps, self.rhos = [], []
        super().boost(ctx, hidden, readout)

    def fit_stage(self, ctx, hidden, readout, units, base, step, n_steps):
        if not self.snaps:               # F_0 (the constant) plus stage 0's fresh weights
            self.start = (readout.weight.detach().clone(), readout.bias.detach().clone())
        before = [t.detach().clone() for t in (hidden.weight, hidden.bias, readout.weight)]
        step = super().fit_stage(ctx, hidden, readout, units, base, step, n_steps)
        after = [t.detach().clone() for t in (hidden.weight, hidden.bias, readout.weight)]
        self.snaps.append((units, before, after))
        x = ctx.data.train[0]
        with torch.no_grad():
            self.parts = split_output(ctx.model, readout, units, base, x)
        return step

    def scale_stage(self, ctx, readout, units, base):
        rho = super().scale_stage(ctx, readout, units, base)
        self.rhos.append(rho)
        prev, part = self.parts
        with torch.no_grad():                             # F_t = F_{t-1} + rho h_t
            torch.testing.assert_close(ctx.model(ctx.data.train[0]), prev + rho * part,
                                       rtol=1e-4, atol=1e-4)
        return rho


def test_each_stage_trains_only_its_own_units_and_adds_rho_times_its_fit():
    ctx = _ctx(_exp({"stages": 4}, width=8, steps=20))
    spy = Spy(BoostedNetConfig(stages=4))
    spy.train(ctx)
    w0, b0 = spy.start
    assert bool((w0[:, 2:] == 0).all()) and bool((w0[:, :2] != 0).all())
    torch.testing.assert_close(b0, constant_fit(ctx))
    for units, before, after in spy.snaps:
        for dim, (a, b) in zip((0, 0, 1), zip(before, after)):
            keep = torch.ones(a.shape[dim], dtype=torch.bool)
            keep[units] = False
            moved_out = (a[keep] != b[keep]) if dim == 0 else (a[:, keep] != b[:, keep])
            assert not bool(moved_out.any()), "a unit outside the stage moved"
        assert not torch.equal(before[0][units], after[0][units])  # the stage's own did
    assert len(spy.rhos) == 4 and all(math.isfinite(r) and r > 0 for r in spy.rhos)
    assert [m["gbnn/stage"] for _, m in ctx.history] == [0.0, 1.0, 2.0, 3.0]


def test_switching_units_off_is_measured_and_undone():
    ctx = _ctx(_exp({"stages": 2}))
    BoostedNet(BoostedNetConfig(stages=2)).train(ctx)
    readout = ctx.model.readout
    before = readout.weight.detach().clone()
    full = score(ctx)
    last = torch.arange(6, 8)                   # round(0.3 * 8) = 2 units
    dropped = score_without(ctx, readout, last)
    assert torch.equal(readout.weight, before)
    assert ctx.final_metrics["switch_off/last_pts"] == pytest.approx(full - dropped)
    assert ctx.final_metrics["switch_off/units"] == 2
    assert ctx.final_metrics["gbnn/n_val"] == len(ctx.data.val[0])


def test_joint_mode_is_the_standard_loop():
    result = execute(load(_exp({"mode": "joint", "stages": 2})).run)
    assert result.status == "finished", result.error
    assert [s for s, _ in result.history] == [5, 10, 15, 20]
    assert "switch_off/random_pts" in result.metrics


@pytest.mark.parametrize("change,message", [({"depth": 2}, "depth: 1"),
                                            ({"width": 9}, "must divide")])
def test_a_wrong_network_is_a_clear_error(change, message):
    exp = _exp({"stages": 2})
    exp["model"].update(change)
    result = execute(load(exp).run)
    assert result.status == "failed" and message in result.error


class TestBoostedNetContract(MethodContract):
    @pytest.fixture
    def component(self):
        return BoostedNet


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_gb_nn").joinpath(arm))).run
    assert run.model == {"name": "mlp", "width": 100, "depth": 1, "activation": "relu",
                         "bias": True} and run.methods["trainer"]["stages"] == 10


# --- the checks on made-up numbers -------------------------------------------------------------

GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]


def _arm(arm: str, acc: float, last: float = 0.5, rand: float = 5.0, best: float = 3e-3,
         n_val: float = 359.0) -> dict[str, float]:
    m = {}
    for n, lr in enumerate(GRID):
        here = lr == best
        m.update({f"{arm}/trials/{n}/methods.optimizer.lr": lr,
                  f"{arm}/trials/{n}/val/loss": 0.1 if here else 0.3,
                  f"{arm}/trials/{n}/val/acc": acc if here else acc - 0.05,
                  f"{arm}/trials/{n}/switch_off/last_pts": last,
                  f"{arm}/trials/{n}/switch_off/random_pts": rand,
                  f"{arm}/trials/{n}/gbnn/n_val": n_val})
    return m


def _seed(gb_acc: float, gb_last: float = 0.5, adam_rand: float = 5.0,
          adam_acc: float = 0.97, adam_best: float = 3e-3) -> dict[str, float]:
    return {**_arm("gb_digits", gb_acc, gb_last), **_arm("gb_cancer", gb_acc, gb_last,
                                                         n_val=142.0),
            **_arm("adam_digits", adam_acc, rand=adam_rand, best=adam_best),
            **_arm("adam_cancer", adam_acc, rand=adam_rand, n_val=142.0)}


def test_match_check_decides_from_the_interval_over_seeds():
    same = [_seed(0.97), _seed(0.968), _seed(0.972)]
    assert decide([matches_adam(m) for m in same]).status == "PASS"
    worse = [_seed(0.93), _seed(0.94), _seed(0.935)]
    assert decide([matches_adam(m) for m in worse]).status == "FAIL"
    mixed = [_seed(0.97), _seed(0.95), _seed(0.965)]
    assert decide([matches_adam(m) for m in mixed]).status == "INCONCLUSIVE"


def test_switch_off_check_decides_from_the_interval_over_seeds():
    graceful = [_seed(0.97, 0.3), _seed(0.97, 0.6), _seed(0.97, 0.0)]
    assert decide([switches_off_gracefully(m) for m in graceful]).status == "PASS"
    fragile = [_seed(0.97, 6.0), _seed(0.97, 7.0), _seed(0.97, 6.5)]
    assert decide([switches_off_gracefully(m) for m in fragile]).status == "FAIL"
    tie = [_seed(0.97, 1.0, adam_rand=1.0)] * 3            # a tie is not "less than"
    assert decide([switches_off_gracefully(m) for m in tie]).status != "PASS"


def test_checks_guards():
    for check in (matches_adam, switches_off_gracefully):
        edge = [_seed(0.97, adam_best=1e-1)] * 3
        d = decide([check(m) for m in edge])
        assert d.status == "NOT-ESTABLISHED" and "adam_digits" in d.reason
        chance = [_seed(0.97, adam_acc=0.12)] * 3
        assert decide([check(m) for m in chance]).status == "INVALID"
        missing = [{k: v for k, v in _seed(0.97).items() if not k.startswith("gb_cancer/")}]
        assert decide([check(m) for m in missing * 3]).status == "INVALID"


@pytest.mark.slow
def test_negative_control_boosting_with_no_step_does_not_match(tmp_path):
    """matches-adam with the boosted arms' stages scaled to nothing (shrinkage 1e-6: the net
    stays the constant model): the check must not PASS (smoke budget, 3 seeds)."""
    tiny = {"methods.trainer.shrinkage": 1e-6}
    out = negative_control("gb-nn:matches-adam", overrides={"gb_digits": tiny,
                                                            "gb_cancer": tiny},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_adam_in_place_of_boosting_does_not_switch_off_gracefully(tmp_path):
    """switches-off-gracefully with the boosted arms running AdamW: its last units are no
    different from random ones, so the check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("gb-nn:switches-off-gracefully",
                           arms={"gb_digits": "adam_digits", "gb_cancer": "adam_cancer"},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
