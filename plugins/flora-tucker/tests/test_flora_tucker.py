from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
import torch.nn.functional as F
from assay import UserError, load
from assay.claims import decide
from assay.testing import MethodContract, execute, load_yaml, negative_control
from assay_flora_tucker.claims import CLAIMS, beats_reshaped_lora
from assay_flora_tucker.method import (
    FLoRA,
    FLoRAConfig,
    KernelLoRA,
    KernelLoRAConfig,
    ReshapedLoRAConv,
    TuckerConv,
    tucker,
)
from torch import nn


class Net(nn.Module):
    """The core CNN's layout: ``convs`` then a ``readout``."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv1d(1, 6, 3, padding=1), nn.Conv1d(6, 6, 3, padding=1)])
        self.readout = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(1)
        for conv in self.convs:
            h = F.relu(conv(h))
        return self.readout(h.mean(2))


# --- the Tucker update --------------------------------------------------------------------------

def test_tucker_is_the_sum_over_the_core_written_out():
    torch.manual_seed(0)
    G = torch.randn(2, 3, 2, 2)
    U = [torch.randn(5, 2), torch.randn(4, 3), torch.randn(3, 2), torch.randn(3, 2)]
    want = torch.einsum("abcd,oa,ib,hc,wd->oihw", G, *U)
    torch.testing.assert_close(tucker(G, U), want)


def test_flora_conv_starts_at_the_base_and_convolves_with_w_plus_the_tucker_update():
    torch.manual_seed(1)
    base = nn.Conv1d(4, 5, 3, padding=1)
    layer, x = TuckerConv(base, [3, 2, 2], scale=0.5), torch.randn(2, 4, 9)
    torch.testing.assert_close(layer(x), base(x))                         # G = 0 at the start
    with torch.no_grad():
        layer.core.normal_()
    U_o, U_i, U_k = layer.factors
    dW = 0.5 * torch.einsum("abc,oa,ib,kc->oik", layer.core, U_o, U_i, U_k)
    torch.testing.assert_close(layer(x), F.conv1d(x, base.weight + dW, base.bias, padding=1))
    assert not base.weight.requires_grad


def test_flora_core_receives_the_first_gradient_and_factors_none():
    torch.manual_seed(2)
    layer = TuckerConv(nn.Conv2d(3, 4, 3, padding=1), [2, 2, 2, 2], scale=1.0)
    layer(torch.randn(2, 3, 6, 6)).square().sum().backward()
    assert layer.core.grad.abs().sum() > 0
    assert all(not u.grad.any() for u in layer.factors)                  # dW/dU_j = 0 when G = 0


def test_parameter_counts_of_the_claims_layout_by_hand():
    conv = nn.Conv1d(32, 32, 5, padding=2)
    flora = TuckerConv(conv, [13, 13, 4], scale=1.0)
    assert sum(p.numel() for p in flora.parameters() if p.requires_grad) == \
        13 * 13 * 4 + 32 * 13 + 32 * 13 + 5 * 4 == 1528
    lora = ReshapedLoRAConv(nn.Conv1d(32, 32, 5, padding=2), rank=8, alpha=16)
    assert sum(p.numel() for p in lora.parameters() if p.requires_grad) == 8 * (32 + 160)
    clipped = TuckerConv(nn.Conv1d(1, 32, 5), [13, 13, 4], scale=1.0)
    assert tuple(clipped.core.shape) == (13, 1, 4)


def test_wrong_number_of_ranks_is_a_user_error():
    with pytest.raises(UserError, match="one rank per mode"):
        TuckerConv(nn.Conv2d(3, 4, 3), [2, 2, 2], scale=1.0)


# --- the baseline: LoRA on the reshaped kernel --------------------------------------------------

def test_reshaped_lora_is_a_rank_r_conv_followed_by_a_pointwise_conv():
    # peft's LoRA for Conv layers: A as a conv with the base's kernel (in -> r), B as a 1x1
    # conv (r -> out); that is the same as adding reshape(B @ A) to the kernel
    torch.manual_seed(3)
    base = nn.Conv1d(4, 5, 3, padding=1)
    layer, x = ReshapedLoRAConv(base, rank=2, alpha=3.0), torch.randn(2, 4, 8)
    torch.testing.assert_close(layer(x), base(x))                         # B = 0 at the start
    with torch.no_grad():
        layer.lora_B.normal_()
    low = F.conv1d(x, layer.lora_A.reshape(2, 4, 3), padding=1)
    want = base(x) + 1.5 * F.conv1d(low, layer.lora_B[:, :, None])
    torch.testing.assert_close(layer(x), want)


# --- on a model ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method", [FLoRA(FLoRAConfig(ranks=[2, 2, 2])),
                                    KernelLoRA(KernelLoRAConfig(rank=2))])
def test_adapters_freeze_the_model_but_adapters_and_readout(method):
    torch.manual_seed(4)
    net, x = Net(), torch.randn(5, 10)
    before = net(x).detach()
    adapted = method.apply(net, None)
    torch.testing.assert_close(adapted(x), before)
    trainable = {n for n, p in adapted.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("readout") or ".base." not in n for n in trainable)
    assert not any(".base." in n for n in trainable)
    assert method.adapter_params() == sum(
        p.numel() for n, p in adapted.named_parameters() if p.requires_grad
        and not n.startswith("readout"))


def test_a_target_matching_no_conv_names_the_conv_layers():
    with pytest.raises(UserError, match="convs.0, convs.1"):
        FLoRA(FLoRAConfig(target="hidden.*")).apply(Net(), None)


def _exp(classes, methods, steps=60):
    return {"dataset": {"name": "mnist1d", "n_train": 400, "n_val": 200, "classes": classes},
            "model": {"name": "cnn", "channels": 8, "depth": 2, "kernel_size": 5},
            "methods": methods, "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 64, "eval_every": steps}}


def test_pretrain_then_adapt_with_flora_through_assay():
    pre = execute(load(_exp([0, 1, 2, 3, 4], {"optimizer": {"name": "adamw", "lr": 1e-2}},
                            80)).run, keep_state=True)
    assert pre.status == "finished", pre.error
    methods = {"adapter": {"name": "flora", "ranks": [4, 4, 3], "target": r"convs\.1"},
               "optimizer": {"name": "adamw", "lr": 3e-2, "weight_decay": 0.0}}
    adapted = execute(load(_exp([5, 6, 7, 8, 9], methods, 80)).run, init_state=pre.state_dict,
                      keep_state=True)
    assert adapted.status == "finished", adapted.error
    assert adapted.metrics["adapter/params"] == 4 * 4 * 3 + 8 * 4 + 8 * 4 + 5 * 3
    assert adapted.metrics["val/acc"] > 0.25                          # chance: 0.2
    torch.testing.assert_close(adapted.state_dict["convs.1.base.weight"],
                               pre.state_dict["convs.1.weight"])     # the kernel never moves
    assert adapted.state_dict["convs.1.core"].abs().sum() > 0


class TestFLoRAContract(MethodContract):
    @pytest.fixture
    def component(self):
        return FLoRA


class TestKernelLoRAContract(MethodContract):
    @pytest.fixture
    def component(self):
        return KernelLoRA


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_flora_tucker").joinpath(arm))).run
    assert run.pretrain is not None and run.methods["adapter"]["target"] == r"convs\.[12]"


# --- the claim's check on made-up numbers -------------------------------------------------------

LRS = [1e-4, 1e-3, 1e-2, 1e-1]


def _arm(arm: str, acc: float, best_lr: float = 1e-2, params: float = 3056.0) -> dict:
    m = {f"{arm}/best/val/acc": acc}
    for n, lr in enumerate(LRS):
        m.update({f"{arm}/trials/{n}/methods.optimizer.lr": lr,
                  f"{arm}/trials/{n}/val/acc": acc if lr == best_lr else acc - 0.1,
                  f"{arm}/trials/{n}/adapter/params": params})
    return m


def _seed(flora: float, lora: float = 0.90, params: float = 3056.0, **kw) -> dict:
    return {**_arm("flora", flora, params=params), **_arm("lora", lora, params=3072.0, **kw)}


def test_check_decides_from_the_interval_over_seeds():
    good = [_seed(0.92), _seed(0.915), _seed(0.925), _seed(0.92), _seed(0.91)]
    assert decide([beats_reshaped_lora(m) for m in good]).status == "PASS"
    tie = [_seed(0.90), _seed(0.901), _seed(0.899)]
    assert decide([beats_reshaped_lora(m) for m in tie]).status == "FAIL"
    mixed = [_seed(0.93), _seed(0.89)]
    assert decide([beats_reshaped_lora(m) for m in mixed]).status == "INCONCLUSIVE"
    bigger = [_seed(0.92, params=4000.0)] * 3                       # more numbers than LoRA
    assert decide([beats_reshaped_lora(m) for m in bigger]).status == "FAIL"


def test_guards():
    at_chance = [_seed(0.92, lora=0.21)] * 3
    d = decide([beats_reshaped_lora(m) for m in at_chance])
    assert d.status == "INVALID" and "lora" in d.reason
    nan = {k: (math.nan if k.startswith("flora/trials") and k.endswith("acc") else v)
           for k, v in _seed(0.92).items()}
    assert decide([beats_reshaped_lora(nan)] * 3).status == "INVALID"
    edge = [_seed(0.92, best_lr=1e-4)] * 3
    d = decide([beats_reshaped_lora(m) for m in edge])
    assert d.status == "NOT-ESTABLISHED" and "lora" in d.reason


@pytest.mark.slow
def test_negative_control_flora_replaced_by_lora_does_not_beat_it(tmp_path):
    """The claim with FLoRA's arm running LoRA on the reshaped kernel: the gain is 0 by
    construction, so the check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("flora-tucker:beats-reshaped-lora", arms={"flora": "lora"}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
