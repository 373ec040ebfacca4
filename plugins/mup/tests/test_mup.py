from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from assay import UserError
from assay import load
from assay._builtin.datasets import SyntheticClassification
from assay._builtin.models import MLP, Transformer
from assay._builtin.optim import AdamW, SGD
from assay.testing import execute
from assay_mup.claims import coord_check, fitted_optimum, lr_transfer
from assay_mup.method import MuReadout, Mup, MupConfig, MupSP, classify

DATA = SyntheticClassification(SyntheticClassification.Config(
    n_train=512, n_val=128, dim=8, n_classes=4)).load(0)


def mlp(width: int, depth: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return MLP(MLP.Config(width=width, depth=depth)).build(DATA)


def mult_of(groups, param):
    g = next(g for g in groups if any(p is param for p in g["params"]))
    return g.get("lr_mult", 1.0), g.get("wd_mult", 1.0)


@pytest.mark.parametrize("kind, expected", [
    # role -> lr_mult at m = 4 (Table 3 of arXiv:2203.03466, output-multiplier form)
    ("adam", {"input": 1, "vector": 1, "hidden": 0.25, "readout": 1, "fixed": 1}),
    ("sgd", {"input": 4, "vector": 4, "hidden": 1, "readout": 4, "fixed": 1}),
])
def test_learning_rate_multipliers_follow_table3(kind, expected):
    model = mlp(256)
    groups = Mup(MupConfig(base_width=64, optimizer_kind=kind)).apply(model, DATA)
    params = {"input": model.hidden[0].weight, "vector": model.hidden[1].bias,
              "hidden": model.hidden[2].weight, "readout": model.readout.weight,
              "fixed": model.readout.bias}
    for role, p in params.items():
        lr_mult, wd_mult = mult_of(groups, p)
        assert lr_mult == pytest.approx(expected[role]), role
        assert wd_mult == pytest.approx(1 / expected[role]), role   # lr * wd width-free
    n = sum(len(g["params"]) for g in groups)
    assert n == len(list(model.parameters()))                       # every parameter, once


def test_optimizer_receives_the_scaled_rates():
    model = mlp(128)
    groups = Mup(MupConfig(base_width=32)).apply(model, DATA)
    opt = AdamW(AdamW.Config(lr=0.01, weight_decay=0.1)).build(groups)
    lrs = sorted({round(g["lr"], 12) for g in opt.param_groups})
    assert lrs == [0.0025, 0.01]
    hidden = next(g for g in opt.param_groups if g["lr"] == pytest.approx(0.0025))
    assert hidden["weight_decay"] == pytest.approx(0.4)
    assert SGD(SGD.Config(lr=0.1)).build(
        Mup(MupConfig(base_width=32, optimizer_kind="sgd")).apply(mlp(128), DATA))


def test_init_and_readout_multiplier_by_hand():
    model, ref = mlp(256), mlp(256)                     # same seed: identical SP weights
    Mup(MupConfig(base_width=64, output_mult=2.0)).apply(model, DATA)
    # hidden/input weights keep torch's 1/sqrt(fan_in) init; width-fan_in biases x sqrt(m)
    torch.testing.assert_close(model.hidden[2].weight, ref.hidden[2].weight)
    torch.testing.assert_close(model.hidden[0].bias, ref.hidden[0].bias)
    torch.testing.assert_close(model.hidden[1].bias, 2 * ref.hidden[1].bias)
    assert isinstance(model.readout, MuReadout)
    # readout: weights and bias x sqrt(4) = 2, input x output_mult / m = 2 / 4
    x = torch.randn(5, 256)
    expected = F.linear(x * 0.5, 2 * ref.readout.weight, 2 * ref.readout.bias)
    torch.testing.assert_close(model.readout(x), expected)
    assert set(model.state_dict()) == set(ref.state_dict())


def test_zero_readout_init():
    model = mlp(128)
    Mup(MupConfig(base_width=64, readout_zero_init=True)).apply(model, DATA)
    assert model.readout.weight.abs().sum() == 0 and model.readout.bias.abs().sum() == 0


@pytest.mark.parametrize("method", [Mup(MupConfig(base_width=128)),
                                    MupSP(MupSP.Config(base_width=16))])
def test_identity_at_base_width_and_for_sp(method):
    model, ref = mlp(128), mlp(128)
    groups = method.apply(model, DATA)
    assert len(groups) == 1 and groups[0]["lr_mult"] == 1.0 and groups[0]["wd_mult"] == 1.0
    assert type(model.readout) is nn.Linear
    x = torch.randn(7, 8)
    torch.testing.assert_close(model(x), ref(x), rtol=0, atol=0)


def test_transformer_roles_and_attention_scale():
    from assay._builtin.datasets import Bytes

    data = Bytes(Bytes.Config(seq_len=8)).load(0)
    model = Transformer(Transformer.Config(width=64, depth=1, n_heads=4)).build(data)
    Mup(MupConfig(base_width=16)).apply(model, data)
    # head dim 16, at base width 4: scale sqrt(4)/16 (SP would be 1/sqrt(16) = 0.25)
    assert model.blocks[0].attn_scale == pytest.approx(0.125)
    roles = {r: {id(p) for _, p in v} for r, v in classify(model).items()}
    assert id(model.embed.weight) in roles["input"] and id(model.pos.weight) in roles["input"]
    for layer in (model.blocks[0].qkv, model.blocks[0].proj, model.blocks[0].mlp[2]):
        assert id(layer.weight) in roles["hidden"]
    assert id(model.blocks[0].ln1.weight) in roles["vector"]
    assert id(model.readout.weight) in roles["readout"]


def test_models_without_readout_are_refused():
    with pytest.raises(UserError, match="readout"):
        Mup().apply(nn.Sequential(nn.Linear(8, 4)), DATA)


def experiment(param: str, width: int, steps: int, lr: float = 2 ** -7) -> dict:
    return {"dataset": {"name": "synthetic-classification", "n_train": 512, "n_val": 128,
                        "dim": 16, "n_classes": 8},
            "model": {"name": "mlp", "width": width, "depth": 3},
            "methods": {"parameterization": {"name": param, "base_width": 32,
                                             "coord_steps": min(steps, 3)},
                        "optimizer": {"name": "adamw", "lr": lr, "weight_decay": 0.0}},
            "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 64, "eval_every": steps}}


def test_coordinate_check_is_flat_under_mup_and_grows_under_sp():
    delta = {}
    for param in ("mup", "mup-sp"):
        for width in (32, 512):
            result = execute(load(experiment(param, width, 3)).run)
            assert result.status == "finished", result.error
            delta[param, width] = result.metrics["coord/readout_delta"]
            assert result.metrics["coord/step3/hidden_delta"] > 0
    assert 0.5 <= delta["mup", 512] / delta["mup", 32] <= 2
    assert delta["mup-sp", 512] / delta["mup-sp", 32] > 4
    assert delta["mup", 32] == pytest.approx(delta["mup-sp", 32])   # base width: same model


def test_mup_trains_and_one_override_switches_to_sp():
    exp = experiment("mup", 128, 60, lr=3e-3)
    result = execute(load(exp).run)
    assert result.status == "finished", result.error
    assert result.metrics["val/loss"] < math.log(8) - 0.2, result.metrics
    sp = load(exp, ["methods.parameterization.name=mup-sp"]).run
    assert sp.methods["parameterization"]["name"] == "mup-sp"


def test_fitted_optimum_recovers_a_parabola_vertex():
    lrs = [2.0 ** e for e in range(-11, -4)]
    losses = [0.8 + 0.02 * (math.log2(lr) + 7.4) ** 2 for lr in lrs]
    assert fitted_optimum(lrs, losses) == pytest.approx(-7.4)
    # concave data: falls back to the argmin; the vertex is never pushed past a grid step
    assert fitted_optimum([1e-3, 2e-3, 4e-3], [1.0, 0.5, 0.9]) == pytest.approx(
        math.log2(2e-3), abs=1.0)
    assert fitted_optimum([1e-3, 2e-3, 4e-3], [1.0, 1.2, 0.2]) == pytest.approx(math.log2(4e-3))


def made_up_sweeps(sp_slope: float, mup_slope: float) -> dict[str, float]:
    m = {}
    for p, s in (("mup", mup_slope), ("sp", sp_slope)):
        for i, w in enumerate((64, 128, 256, 512)):
            best = -7 + s * i
            for n, e in enumerate(range(-11, -4)):
                m[f"{p}_w{w}/trials/{n}/methods.optimizer.lr"] = 2.0 ** e
                m[f"{p}_w{w}/trials/{n}/val/loss"] = 0.85 + 0.01 * (e - best) ** 2
            m[f"{p}_w{w}/best/methods.optimizer.lr"] = 2.0 ** round(best)
    return m


def test_lr_transfer_check_on_made_up_numbers():
    good = lr_transfer(made_up_sweeps(sp_slope=-0.7, mup_slope=0.1))
    assert good.passed, good.detail
    assert good.numbers["sp_drift_octaves"] == pytest.approx(-2.1, abs=0.05)
    assert not lr_transfer(made_up_sweeps(sp_slope=-0.7, mup_slope=-0.5)).passed  # muP drifts
    assert not lr_transfer(made_up_sweeps(sp_slope=-0.2, mup_slope=0.0)).passed   # SP too
    only_best = {k: v for k, v in made_up_sweeps(-0.7, 0.0).items() if "/best/" in k}
    assert lr_transfer(only_best).passed                     # falls back to the best trials


def test_coord_check_on_made_up_numbers():
    m = {}
    for p, growth in (("mup", 1.2), ("sp", 10.0)):
        for role in ("input", "hidden", "readout"):
            m[f"{p}_w64/coord/{role}_delta"] = 0.3
            m[f"{p}_w1024/coord/{role}_delta"] = 0.3 * growth
    assert coord_check(m).passed
    assert not coord_check({**m, "sp_w1024/coord/readout_delta": 0.6}).passed
    assert not coord_check({**m, "mup_w1024/coord/hidden_delta": 0.9}).passed


def test_transformer_run_records_the_coordinate_check():
    result = execute(load({
        "dataset": {"name": "bytes", "seq_len": 16},
        "model": {"name": "transformer", "width": 32, "depth": 1, "n_heads": 2},
        "methods": {"parameterization": {"name": "mup", "base_width": 16, "coord_steps": 2},
                    "optimizer": {"name": "adamw", "lr": 3e-3}},
        "backend": {"name": "cpu"},
        "train": {"steps": 4, "batch_size": 8, "eval_every": 4}}).run)
    assert result.status == "finished", result.error
    for layer in ("input", "hidden", "readout"):
        assert result.metrics[f"coord/{layer}_delta"] > 0
    assert "coord/step2/readout_delta" in result.metrics
    assert "coord/step3/readout_delta" not in result.metrics
