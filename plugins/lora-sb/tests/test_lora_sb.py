from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
import torch.nn.functional as F
from assay import load
from assay.claims import decide
from assay.lib.adapters import adapters
from assay.testing import MethodContract, build_context, execute, load_yaml, negative_control
from assay_lora_sb.claims import CLAIMS, beats_lora_xs, matches_lora
from assay_lora_sb.method import (
    CoreLinear,
    LoRASB,
    LoRASBConfig,
    LoRAXS,
    LoRAXSConfig,
    first_update,
    update_factors,
)
from torch import nn


class Readout(nn.Module):
    """Multinomial logistic regression with the core models' layout (a ``readout`` Linear)."""

    def __init__(self, n_in: int = 6, n_out: int = 4) -> None:
        super().__init__()
        self.readout = nn.Linear(n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(x)


class Batch:
    """A fake Data: just the training split LoRA-SB samples from, classification."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.train, self.task = (x, y), "classification"


# --- the layer and the factors ------------------------------------------------------------------

def test_core_layer_computes_w_plus_scaled_b_r_a_and_trains_only_r():
    torch.manual_seed(0)
    layer = CoreLinear(nn.Linear(5, 4), rank=2, alpha=3.0)
    A, B, R = torch.randn(2, 5), torch.randn(4, 2), torch.randn(2, 2)
    w0 = layer.base.weight.detach().clone()
    layer.set_core(A, B, R)
    x = torch.randn(7, 5)
    torch.testing.assert_close(layer(x), x @ (w0 + 1.5 * B @ R @ A).T + layer.base.bias)
    torch.testing.assert_close(layer.base.weight, w0)          # the start adds to W
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == ["lora_R"]


def test_update_factors_are_the_truncated_svd_with_orthonormal_b_and_a():
    # dW = U diag(5, 3, 1) V^T by construction; its best rank-2 part is U_2 diag(5, 3) V_2^T
    torch.manual_seed(1)
    U, _ = torch.linalg.qr(torch.randn(6, 3, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(4, 3, dtype=torch.float64))
    dW = U @ torch.diag(torch.tensor([5.0, 3.0, 1.0], dtype=torch.float64)) @ V.T
    A, B, R = update_factors(dW, 2, scale=0.5)
    torch.testing.assert_close(0.5 * B @ R @ A, U[:, :2] @ torch.diag(
        torch.tensor([5.0, 3.0], dtype=torch.float64)) @ V[:, :2].T)
    torch.testing.assert_close(R, torch.diag(torch.tensor([10.0, 6.0], dtype=torch.float64)))
    torch.testing.assert_close(B.T @ B, torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(A @ A.T, torch.eye(2, dtype=torch.float64))


def test_first_update_is_adams_sign_step_or_sgds_step():
    g = torch.tensor([[0.3, -2.0], [0.0, 1e-6]])
    torch.testing.assert_close(first_update(g, 0.1, "adam"),
                               torch.tensor([[-0.1, 0.1], [0.0, -0.1]]))
    torch.testing.assert_close(first_update(g, 0.1, "sgd"), -0.1 * g)


def test_lora_sb_starts_at_the_rank_r_part_of_the_first_adam_step_computed_by_hand():
    torch.manual_seed(2)
    net, x, y = Readout(), torch.randn(32, 6), torch.randint(4, (32,))
    w0 = net.readout.weight.detach().clone()
    # the cross-entropy gradient of a softmax layer, by hand: (softmax - onehot)^T x / n
    p = F.softmax(net(x).detach(), dim=1)
    grad = (p - F.one_hot(y, 4)).T @ x / 32
    step = -0.01 * torch.sign(grad)
    U, S, Vh = torch.linalg.svd(step.double())
    want = (U[:, :2] * S[:2]) @ Vh[:2]
    cfg = LoRASBConfig(rank=2, alpha=2.0, grad_samples=32, init_lr=0.01)
    adapted = LoRASB(cfg).apply(net, Batch(x, y))
    layer = adapted.readout
    torch.testing.assert_close(layer.delta_weight().double(), want, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(layer.merged_weight(), w0 + want.float(), atol=1e-6, rtol=1e-5)
    assert layer.lora_R.requires_grad and not layer.lora_A.requires_grad


def test_the_core_gradient_is_the_full_gradient_seen_through_b_and_a():
    # the paper's equivalence: dL/dR = s * B^T (dL/dW_eff) A^T, so an SGD step on R moves W_eff
    # by -lr * s^2 * B B^T G A^T A (the full gradient projected onto the fixed subspaces)
    torch.manual_seed(3)
    net, x, y = Readout(), torch.randn(16, 6), torch.randint(4, (16,))
    layer = LoRASB(LoRASBConfig(rank=3, alpha=1.5, init_lr=0.05)).apply(net, Batch(x, y)).readout
    F.cross_entropy(layer(x), y).backward()
    merged = layer.merged_weight().detach().requires_grad_()
    F.cross_entropy(F.linear(x, merged, layer.bias), y).backward()
    s = layer.scale
    torch.testing.assert_close(layer.lora_R.grad, s * layer.lora_B.T @ merged.grad @ layer.lora_A.T)


def test_lora_xs_fixes_the_weights_svd_and_starts_near_the_base_model():
    torch.manual_seed(4)
    net, x = Readout(), torch.randn(8, 6)
    w0, before = net.readout.weight.detach().clone(), net(x).detach()
    layer = LoRAXS(LoRAXSConfig(rank=2, alpha=2.0)).apply(net, None).readout
    U, S, Vh = torch.linalg.svd(w0.double(), full_matrices=False)
    for i in range(2):          # singular vectors are defined up to sign: align, then compare
        sign = torch.sign(layer.lora_B[:, i].double() @ U[:, i])
        torch.testing.assert_close(sign * layer.lora_B[:, i].double(), U[:, i], atol=1e-6,
                                   rtol=1e-5)
        torch.testing.assert_close(sign * layer.lora_A[i].double(), S[i] * Vh[i], atol=1e-6,
                                   rtol=1e-5)
    assert layer.lora_R.abs().max() < 1e-4
    torch.testing.assert_close(layer(x), before, atol=1e-4, rtol=1e-4)


# --- through assay ------------------------------------------------------------------------------

def _exp(classes, methods, steps=40):
    return {"dataset": {"name": "mnist1d", "n_train": 400, "n_val": 200, "classes": classes},
            "model": {"name": "mlp", "width": 32, "depth": 1},
            "methods": methods, "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 64, "eval_every": steps}}


def test_setup_starts_the_core_with_the_runs_first_learning_rate():
    methods = {"adapter": {"name": "lora-sb", "rank": 4, "alpha": 4},
               "optimizer": {"name": "adamw", "lr": 0.02},
               "schedule": {"name": "warmup", "warmup_steps": 9}}     # factor(0) = 1/10
    ctx = build_context(load(_exp([5, 6, 7, 8, 9], methods)).run)
    method = ctx.methods["adapter"]
    assert all(not layer.lora_R.detach().any() for layer in adapters(ctx.model).values())
    method.setup(ctx)
    for name, layer in adapters(ctx.model).items():
        torch.testing.assert_close(layer.lora_R, 0.002 * method.unit[name])


def test_pretrain_then_adapt_with_lora_sb_through_assay():
    pre = execute(load(_exp([0, 1, 2, 3, 4], {"optimizer": {"name": "adamw", "lr": 3e-3}},
                            80)).run, keep_state=True)
    assert pre.status == "finished", pre.error
    methods = {"adapter": {"name": "lora-sb", "rank": 4, "alpha": 4},
               "optimizer": {"name": "adamw", "lr": 0.1, "weight_decay": 0.0}}
    adapted = execute(load(_exp([5, 6, 7, 8, 9], methods, 80)).run, init_state=pre.state_dict,
                      keep_state=True)
    assert adapted.status == "finished", adapted.error
    assert adapted.metrics["cost/trainable_params"] == 2 * 4 * 4       # two layers, 4x4 cores
    assert adapted.metrics["val/acc"] > 0.25                           # chance: 0.2, start: 0
    torch.testing.assert_close(adapted.state_dict["hidden.0.base.weight"],
                               pre.state_dict["hidden.0.weight"])     # W itself never moves


class TestLoRASBContract(MethodContract):
    @pytest.fixture
    def component(self):
        return LoRASB


class TestLoRAXSContract(MethodContract):
    @pytest.fixture
    def component(self):
        return LoRAXS


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_lora_sb").joinpath(arm))).run
    assert run.methods["adapter"]["rank"] == 8 and run.pretrain is not None


# --- the claims' checks on made-up numbers ------------------------------------------------------

LRS = [1e-4, 1e-3, 1e-2, 1e-1]


def _arm(arm: str, acc: float, best_lr: float = 1e-2, params: float = 192.0) -> dict:
    m = {f"{arm}/best/val/acc": acc}
    for n, lr in enumerate(LRS):
        m.update({f"{arm}/trials/{n}/methods.optimizer.lr": lr,
                  f"{arm}/trials/{n}/val/acc": acc if lr == best_lr else acc - 0.1,
                  f"{arm}/trials/{n}/cost/trainable_params": params})
    return m


def _seed(sb: float, lora: float = 0.80, xs: float = 0.70, **kw) -> dict:
    return {**_arm("lora-sb", sb), **_arm("lora", lora, params=8592.0, **kw),
            **_arm("lora-xs", xs)}


def test_checks_decide_from_the_interval_over_seeds():
    good = [_seed(0.81), _seed(0.80), _seed(0.815), _seed(0.805), _seed(0.81)]
    assert decide([matches_lora(m) for m in good]).status == "PASS"
    assert decide([beats_lora_xs(m) for m in good]).status == "PASS"
    worse = [_seed(0.75, xs=0.78), _seed(0.76, xs=0.78), _seed(0.74, xs=0.77)]
    assert decide([matches_lora(m) for m in worse]).status == "FAIL"
    assert decide([beats_lora_xs(m) for m in worse]).status == "FAIL"
    mixed = [_seed(0.81), _seed(0.77)]
    assert decide([matches_lora(m) for m in mixed]).status == "INCONCLUSIVE"
    many = [{**_seed(0.81), **_arm("lora-sb", 0.81, params=1000.0)}] * 3      # only 8.6x fewer
    assert decide([matches_lora(m) for m in many]).status == "FAIL"


def test_guards():
    lora_at_chance = [_seed(0.81, lora=0.21)] * 3
    d = decide([matches_lora(m) for m in lora_at_chance])
    assert d.status == "INVALID" and "lora" in d.reason
    xs_at_chance = [_seed(0.81, xs=0.2)] * 3            # a measured outcome, not a broken arm
    assert decide([beats_lora_xs(m) for m in xs_at_chance]).status == "PASS"
    xs_gone = {k: v for k, v in _seed(0.81).items() if not k.startswith("lora-xs/trials")}
    assert decide([beats_lora_xs(xs_gone)] * 3).status == "INVALID"
    nan = {k: (math.nan if k.startswith("lora/trials") and k.endswith("acc") else v)
           for k, v in _seed(0.81).items()}
    assert decide([matches_lora(nan)] * 3).status == "INVALID"
    edge = [_seed(0.81, best_lr=1e-1)] * 3
    d = decide([matches_lora(m) for m in edge])
    assert d.status == "NOT-ESTABLISHED" and "lora" in d.reason


@pytest.mark.slow
def test_negative_control_lora_sb_replaced_by_lora_xs_does_not_beat_it(tmp_path):
    """beats-lora-xs with LoRA-SB's arm running LoRA-XS: the gain is 0, so the check must not
    PASS (smoke budget, 3 seeds)."""
    out = negative_control("lora-sb:beats-lora-xs", arms={"lora-sb": "lora-xs"}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_lora_sb_that_never_steps_does_not_match_lora(tmp_path):
    """matches-lora with LoRA-SB's rate held near zero (a warm-up far longer than the run, so
    its first-step start is near zero too): it stays at the pretrained model, which cannot
    name the new digits, so the check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("lora-sb:matches-lora", overrides={"lora-sb": {
        "methods.schedule": {"name": "warmup", "warmup_steps": 1_000_000}}}, seeds=3,
        tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
