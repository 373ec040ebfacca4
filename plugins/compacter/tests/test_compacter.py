from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
import torch.nn.functional as F
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, execute, load_yaml, negative_control
from assay_compacter.claims import CLAIMS, matches_adapter, near_full_ft
from assay_compacter.method import (
    BottleneckAdapter,
    BottleneckConfig,
    Compacter,
    CompacterConfig,
    PHMLinear,
    kron_sum,
)
from torch import nn


class Net(nn.Module):
    """The core MLP's layout: ``hidden`` Linear layers, then a ``readout``."""

    def __init__(self, d_in: int = 6, width: int = 8, n_out: int = 3) -> None:
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(d_in, width), nn.Linear(width, width)])
        self.readout = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.readout(x)


# --- the PHM layer ------------------------------------------------------------------------------

def test_kron_sum_is_the_sum_of_kronecker_products():
    torch.manual_seed(0)
    rule, fast = torch.randn(3, 3, 3), torch.randn(3, 2, 5)
    want = sum(torch.kron(rule[i], fast[i]) for i in range(3))
    torch.testing.assert_close(kron_sum(rule, fast), want)


def test_phm_layer_applies_the_sum_of_kroneckers_of_slow_and_rank_one_fast_weights():
    torch.manual_seed(1)
    rule = nn.Parameter(torch.randn(2, 2, 2))
    layer = PHMLinear(6, 4, rule, rank=1, zero=False)
    # Eq. 4-5 of arXiv:2106.04647 written out: W = sum_i A_i (x) (s_i t_i^T)
    w = sum(torch.kron(rule[i], torch.outer(layer.s[i, :, 0], layer.t[i, 0])) for i in range(2))
    x = torch.randn(5, 6)
    torch.testing.assert_close(layer(x), x @ w + layer.bias)
    own = sum(p.numel() for n, p in layer.named_parameters() if n != "rule")
    assert own == 2 * (3 + 2) + 4            # n (in/n + out/n) fast numbers, plus the bias


def test_n_must_divide_the_widths():
    with pytest.raises(Exception, match="must divide"):
        PHMLinear(6, 5, nn.Parameter(torch.randn(2, 2, 2)), rank=1, zero=False)


# --- the adapters on a model --------------------------------------------------------------------

@pytest.mark.parametrize("method", [Compacter(CompacterConfig(bottleneck=4, n=2)),
                                    BottleneckAdapter(BottleneckConfig(bottleneck=4))])
def test_adapters_start_at_the_pretrained_function_and_train_only_adapters_and_readout(method):
    torch.manual_seed(2)
    net, x = Net(), torch.randn(7, 6)
    before = net(x).detach()
    adapted = method.apply(net, None)
    torch.testing.assert_close(adapted(x), before)
    names = [n for n, p in adapted.named_parameters() if p.requires_grad]
    assert names and all(n.startswith("readout") or ".down" in n or ".up" in n for n in names)
    assert not any(p.requires_grad for n, p in adapted.named_parameters() if ".base." in n)


def test_compacter_shares_its_slow_weights_across_layers_and_both_receive_gradient():
    torch.manual_seed(3)
    method = Compacter(CompacterConfig(bottleneck=4, n=2))
    net = method.apply(Net(), None)
    assert net.hidden[0].down.rule is net.hidden[1].down.rule
    assert net.hidden[0].up.rule is net.hidden[1].up.rule
    assert net.hidden[0].down.rule is not net.hidden[0].up.rule
    F.cross_entropy(net(torch.randn(9, 6)), torch.randint(3, (9,))).backward()
    assert net.hidden[0].down.rule.grad is not None      # up is zero at the start, so the
    assert net.hidden[0].up.t.grad.abs().sum() > 0       # first gradient reaches up's fast t


def test_adapter_parameter_counts_by_hand():
    # width 256, bottleneck 16, two hidden layers, as the claim's arms
    net = nn.Module()
    net.hidden = nn.ModuleList([nn.Linear(40, 256), nn.Linear(256, 256)])
    net.readout = nn.Linear(256, 10)
    houlsby = BottleneckAdapter(BottleneckConfig(bottleneck=16))
    houlsby.apply(net, None)
    assert houlsby.adapter_params() == 2 * (2 * 256 * 16 + 16 + 256)
    net.hidden = nn.ModuleList([nn.Linear(40, 256), nn.Linear(256, 256)])
    compacter = Compacter(CompacterConfig(bottleneck=16, n=4, rank=1))
    compacter.apply(net, None)
    per_layer = 4 * (64 + 4) + 16 + 4 * (4 + 64) + 256
    assert compacter.adapter_params() == 2 * per_layer + 2 * 4 ** 3        # + the shared rules


# --- through assay ------------------------------------------------------------------------------

def _exp(classes, methods, steps=60):
    return {"dataset": {"name": "mnist1d", "n_train": 400, "n_val": 200, "classes": classes},
            "model": {"name": "mlp", "width": 32, "depth": 2},
            "methods": methods, "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 64, "eval_every": steps}}


def test_pretrain_then_adapt_with_compacter_through_assay():
    pre = execute(load(_exp([0, 1, 2, 3, 4], {"optimizer": {"name": "adamw", "lr": 3e-3}},
                            80)).run, keep_state=True)
    assert pre.status == "finished", pre.error
    methods = {"adapter": {"name": "compacter", "bottleneck": 8, "n": 4},
               "optimizer": {"name": "adamw", "lr": 1e-2, "weight_decay": 0.0}}
    adapted = execute(load(_exp([5, 6, 7, 8, 9], methods, 80)).run, init_state=pre.state_dict,
                      keep_state=True)
    assert adapted.status == "finished", adapted.error
    per_layer = 4 * (8 + 2) + 8 + 4 * (2 + 8) + 32
    assert adapted.metrics["adapter/params"] == 2 * per_layer + 2 * 4 ** 3
    assert adapted.metrics["cost/trainable_params"] == 2 * per_layer + 2 * 64 + 33 * 10
    assert adapted.metrics["val/acc"] > 0.25                          # chance: 0.2
    torch.testing.assert_close(adapted.state_dict["hidden.0.base.weight"],
                               pre.state_dict["hidden.0.weight"])    # the base never moves


class TestCompacterContract(MethodContract):
    @pytest.fixture
    def component(self):
        return Compacter


class TestHoulsbyContract(MethodContract):
    @pytest.fixture
    def component(self):
        return BottleneckAdapter


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_compacter").joinpath(arm))).run
    assert run.pretrain is not None and run.train.steps == 300


# --- the claims' checks on made-up numbers ------------------------------------------------------

LRS = [1e-4, 1e-3, 1e-2, 1e-1]


def _arm(arm: str, acc: float, best_lr: float = 1e-2, params: float | None = None) -> dict:
    m = {f"{arm}/best/val/acc": acc}
    for n, lr in enumerate(LRS):
        m.update({f"{arm}/trials/{n}/methods.optimizer.lr": lr,
                  f"{arm}/trials/{n}/val/acc": acc if lr == best_lr else acc - 0.1})
        if params is not None:
            m[f"{arm}/trials/{n}/adapter/params"] = params
    return m


def _seed(comp: float, adapter: float = 0.80, full: float = 0.80, **kw) -> dict:
    return {**_arm("compacter", comp, params=1760.0), **_arm("adapter", adapter, params=16928.0),
            **_arm("full", full, **kw)}


def test_checks_decide_from_the_interval_over_seeds():
    good = [_seed(0.80), _seed(0.795), _seed(0.81), _seed(0.80), _seed(0.805)]
    assert decide([matches_adapter(m) for m in good]).status == "PASS"
    assert decide([near_full_ft(m) for m in good]).status == "PASS"
    worse = [_seed(0.75), _seed(0.76), _seed(0.74)]
    assert decide([matches_adapter(m) for m in worse]).status == "FAIL"
    assert decide([near_full_ft(m) for m in worse]).status == "FAIL"
    mixed = [_seed(0.81), _seed(0.75)]
    assert decide([matches_adapter(m) for m in mixed]).status == "INCONCLUSIVE"
    heavy = [{**_seed(0.80), **_arm("compacter", 0.80, params=5000.0)}] * 3   # only 3.4x fewer
    assert decide([matches_adapter(m) for m in heavy]).status == "FAIL"


def test_guards():
    full_at_chance = [_seed(0.80, full=0.21)] * 3
    d = decide([near_full_ft(m) for m in full_at_chance])
    assert d.status == "INVALID" and "full" in d.reason
    compacter_at_chance = [_seed(0.2)] * 3              # a measured outcome, not a broken arm
    assert decide([near_full_ft(m) for m in compacter_at_chance]).status == "FAIL"
    nan = {k: (math.nan if k.startswith("adapter/trials") and k.endswith("acc") else v)
           for k, v in _seed(0.8).items()}
    assert decide([matches_adapter(nan)] * 3).status == "INVALID"
    edge = [_seed(0.8, best_lr=1e-1)] * 3
    d = decide([near_full_ft(m) for m in edge])
    assert d.status == "NOT-ESTABLISHED" and "full" in d.reason


NEVER_STEPS = {"compacter": {"methods.schedule": {"name": "warmup", "warmup_steps": 1_000_000}}}


@pytest.mark.slow
def test_negative_control_compacter_that_never_steps_does_not_match_the_adapter(tmp_path):
    """matches-adapter with Compacter's rate held near zero (a warm-up far longer than the
    run): it stays at the pretrained model, which cannot name the new digits, so the check
    must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("compacter:matches-adapter", overrides=NEVER_STEPS, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_compacter_that_never_steps_is_not_near_full_ft(tmp_path):
    """near-full-ft with Compacter frozen at the pretrained model (as above): must not PASS."""
    out = negative_control("compacter:near-full-ft", overrides=NEVER_STEPS, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
