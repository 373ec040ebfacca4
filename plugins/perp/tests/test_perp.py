from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build_context, execute, load_yaml, negative_control
from assay_perp.claims import CLAIMS, recovers_like_full
from assay_perp.method import PERP, OneShotPruning, PERPConfig, retrained_parameters
from torch import nn


class Net(nn.Module):
    """A conv layer with BatchNorm and a readout, as the core ``cnn`` lays them out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 3, 2)                     # weight 6, bias 3
        self.norm = nn.BatchNorm1d(3)                       # weight 3, bias 3
        self.readout = nn.Linear(3, 2)                      # weight 6, bias 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(torch.relu(self.norm(self.conv(x.unsqueeze(1)))).mean(2))


# --- which parameters PERP retrains -------------------------------------------------------------

def test_biases_and_norms_are_the_retrained_parameters():
    net = Net()
    assert set(retrained_parameters(net, {"bias", "norm"})) == {
        "conv.bias", "norm.weight", "norm.bias", "readout.bias"}
    assert set(retrained_parameters(net, {"norm"})) == {"norm.weight", "norm.bias"}
    assert set(retrained_parameters(net, {"readout"})) == {"readout.weight", "readout.bias"}


def test_adapter_freezes_everything_else_and_a_step_moves_only_the_subset():
    torch.manual_seed(0)
    net = PERP(PERPConfig()).apply(Net(), None)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable == {"conv.bias", "norm.weight", "norm.bias", "readout.bias"}
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    nn.functional.cross_entropy(net(torch.randn(8, 5)), torch.randint(2, (8,))).backward()
    opt.step()
    for name, p in net.named_parameters():
        assert torch.equal(p, before[name]) == (name not in trainable), name


def test_the_claims_cnn_retrains_778_of_63178_parameters():
    from assay.testing import build

    data = build("dataset", {"name": "mnist1d", "n_train": 20, "n_val": 20}).load(0)
    model = build("model", {"name": "cnn", "channels": 64, "depth": 4, "kernel_size": 5,
                            "norm": "batch"}).build(data)
    subset = retrained_parameters(model, {"bias", "norm"})
    # 4 conv biases of 64, 4 BatchNorms of 2 x 64, the readout's 10 biases
    assert sum(p.numel() for p in subset.values()) == 4 * 64 + 4 * 128 + 10 == 778
    assert sum(p.numel() for p in model.parameters()) == 63178


# --- one-shot pruning through assay -------------------------------------------------------------

def _exp(methods: dict, steps: int = 10) -> dict:
    return {"dataset": {"name": "mnist1d", "n_train": 256, "n_val": 128},
            "model": {"name": "cnn", "channels": 8, "depth": 2, "kernel_size": 3,
                      "norm": "batch"},
            "methods": {"optimizer": {"name": "adamw", "lr": 1e-2}, **methods},
            "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 64, "eval_every": steps}}


def test_one_shot_pruning_removes_the_globally_smallest_weights_at_setup():
    prune = {"pruning": {"name": "perp-one-shot", "sparsity": 0.6}}
    ctx = build_context(load(_exp(prune)).run)
    weights = {n: m.weight.detach().clone() for n, m in ctx.model.named_modules()
               if isinstance(m, nn.Conv1d)}
    ctx.methods["pruning"].setup(ctx)
    # by hand: the threshold is the 60% quantile of |w| over both conv layers together
    flat = torch.cat([w.abs().flatten() for w in weights.values()])
    k = round(0.6 * flat.numel())
    threshold = flat.sort().values[k - 1]
    for name, w in weights.items():
        pruned = dict(ctx.model.named_modules())[name].weight
        torch.testing.assert_close(pruned, torch.where(w.abs() > threshold, w, 0.0))
    assert ctx.model.readout.weight.ne(0).all()                 # the readout stays dense
    assert {"prune/dense/val/acc", "prune/pruned/val/acc"} <= set(ctx.final_metrics)


def test_pruned_weights_stay_zero_while_retraining_and_perp_keeps_the_rest_frozen():
    pre = execute(load(_exp({}, steps=30)).run, keep_state=True)
    assert pre.status == "finished", pre.error
    methods = {"pruning": {"name": "perp-one-shot", "sparsity": 0.7}, "adapter": {"name": "perp"}}
    full = execute(load(_exp(methods | {"adapter": {"name": "perp", "parts": ["bias", "norm",
                                                                               "readout"]}})).run,
                   init_state=pre.state_dict, keep_state=True)
    perp = execute(load(_exp(methods)).run, init_state=pre.state_dict, keep_state=True)
    for result in (full, perp):
        assert result.status == "finished", result.error
        assert result.metrics["sparsity/actual"] == pytest.approx(0.7, abs=0.01)
    for name in ("convs.0.weight", "convs.1.weight"):          # frozen: exactly the pruned
        w = pre.state_dict[name]                               # pretrained weights
        kept = perp.state_dict[name] != 0
        torch.testing.assert_close(perp.state_dict[name][kept], w[kept])
    assert perp.metrics["cost/trainable_params"] == 8 * 2 + 16 * 2 + 10
    assert not torch.equal(perp.state_dict["norms.0.weight"], pre.state_dict["norms.0.weight"])


class TestPERPContract(MethodContract):
    @pytest.fixture
    def component(self):
        return PERP


class TestOneShotContract(MethodContract):
    @pytest.fixture
    def component(self):
        return OneShotPruning


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_perp").joinpath(arm))).run
    assert run.methods["pruning"]["sparsity"] == 0.7 and run.pretrain is not None


# --- the check on made-up numbers ---------------------------------------------------------------

LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]


def _arm(arm: str, acc: float, best_lr: float = 1e-3, share: float = 0.012,
         pruned: float = 0.40, dense: float = 0.95) -> dict[str, float]:
    m = {}
    for n, lr in enumerate(LRS):
        hit = lr == best_lr
        numbers = {"methods.optimizer.lr": lr, "val/loss": 0.3 if hit else 0.6,
                   "val/acc": acc if hit else acc - 0.05, "prune/dense/val/acc": dense,
                   "prune/pruned/val/acc": pruned, "cost/params": 1000.0,
                   "cost/trainable_params": 1000 * share}
        m.update({f"{arm}/trials/{n}/{k}": v for k, v in numbers.items()})
    return m


def _seed(perp: float, full: float = 0.90, pruned: float = 0.40, dense: float = 0.95,
          **kw) -> dict[str, float]:
    """Both arms from one pruned model (same dense and pruned accuracy)."""
    return {**_arm("perp", perp, pruned=pruned, dense=dense, **kw),
            **_arm("full", full, share=1.0, pruned=pruned, dense=dense)}


def test_check_decides_from_the_interval_over_seeds():
    good = [_seed(0.88), _seed(0.89), _seed(0.875)]           # recovers 0.95-0.98
    assert decide([recovers_like_full(m) for m in good]).status == "PASS"
    poor = [_seed(0.70), _seed(0.72), _seed(0.69)]            # recovers ~0.6
    assert decide([recovers_like_full(m) for m in poor]).status == "FAIL"
    mixed = [_seed(0.90), _seed(0.78)]
    assert decide([recovers_like_full(m) for m in mixed]).status == "INCONCLUSIVE"
    too_many = [_seed(0.90, share=0.05)] * 3                  # recovers, but trains 5%
    assert decide([recovers_like_full(m) for m in too_many]).status == "FAIL"


def test_guards():
    at_chance = [{**_arm("perp", 0.9), **_arm("full", 0.12, share=1.0)}] * 3
    assert decide([recovers_like_full(m) for m in at_chance]).status == "INVALID"
    untrained = [_seed(0.9, dense=0.11)] * 3
    assert decide([recovers_like_full(m) for m in untrained]).status == "INVALID"
    no_trials = {k: v for k, v in _seed(0.88).items() if not k.startswith("full/")}
    assert decide([recovers_like_full(no_trials)] * 3).status == "INVALID"
    nan_loss = {k: (math.nan if k.endswith("val/loss") and k.startswith("perp") else v)
                for k, v in _seed(0.88).items()}
    assert decide([recovers_like_full(nan_loss)] * 3).status == "INVALID"
    edge = [_seed(0.88, best_lr=1e-2)] * 3
    d = decide([recovers_like_full(m) for m in edge])
    assert d.status == "NOT-ESTABLISHED" and "perp" in d.reason
    no_damage = [_seed(0.905, pruned=0.895)] * 3               # full recovers 0.5 pts
    assert decide([recovers_like_full(m) for m in no_damage]).status == "VACUOUS"


@pytest.mark.slow
def test_negative_control_perp_replaced_by_full_retraining_does_not_pass(tmp_path):
    """recovers-like-full with PERP's arm retraining every weight: it recovers as much as full
    retraining but trains 100% of the parameters, so the claim must not PASS (smoke budget, 3
    seeds)."""
    out = negative_control("perp:recovers-like-full", arms={"perp": "full"}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
